"""Make a trained classifier the bundled one: copy its weights into Resources/Models and print its model card.

The card is the run's ``card.json`` completed with what only the two runs together say: the accuracy of the same
recipe on the naive random split beside the twin-aware one, the data, the command, and the 3D decision.
Usage: ``python -m BrainTumorAILib.classification.bundle FINAL_RUN NAIVE_RUN`` (prints the models.json entry).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..registry import MODELS_DIR
from ..weights import sha256_of
from .config import resolve

DATA = ("Brain Tumor MRI Dataset (M. Nickparvar, Kaggle, CC0; a merge of figshare, SARTAJ and Br35H), training split "
        "as mirrored in KomalChaudhari8/BRAIN_TUMOR_APP: 4,289 jpgs (224 px) in ../shared/data/classification/"
        "masoud-train, from which images with a near-twin in the official Testing split were already removed")
THREE_D = ("No 3D tumour-type classifier is trained: the 3D data here (4 BraTS 2013 gliomas, BraTS 2023 glioma and "
           "metastasis samples, one TCGA glioma) has no meningioma, pituitary or tumour-free studies, so a 3D type "
           "head could be neither trained nor validated honestly. A study's type is given by the 27-slice rule with "
           "this 2D network; whether a tumour is present in 3D is the segmentation-derived score (the pipeline's "
           "whole-tumour volume volumes_ml.WT > 0 from segment_case), not a separate model.")


def bundled_card(final_run: Path, naive_run: Path) -> dict[str, Any]:
    """The models.json entry for ``final_run``'s network, with ``naive_run``'s accuracy beside the twin-aware one.

    When ``final_run`` continued an earlier run (``init_from``), that run is the recipe ``naive_run`` repeats on the
    naive split, so the comparison is between equal recipes; the card lists both stages' commands.
    """
    card = json.loads((final_run / "card.json").read_text())
    metrics = json.loads((final_run / "metrics.json").read_text())
    naive = json.loads((naive_run / "metrics.json").read_text())
    config = card["training"].pop("config")
    stages = [config]
    while stages[0].get("init_from"):
        earlier = json.loads((resolve(stages[0]["init_from"]).parent / "card.json").read_text())
        stages.insert(0, earlier["training"]["config"] | {"metrics": earlier["metrics"]["validation"],
                                                          "seconds": earlier["training"]["training_seconds"]})
    target = MODELS_DIR / f"{card['id']}.safetensors"
    shutil.copyfile(final_run / "model.safetensors", target)
    card["weights"] = {"file": target.name, "sha256": sha256_of(target), "size_bytes": target.stat().st_size,
                       "format": "safetensors"}
    card["default"] = True
    recipe_keys = ("image_size", "loss", "optimiser", "batch_size", "epochs", "early_stopping", "reduce_lr",
                   "augmentation", "split", "init_from")
    card["training"].update({
        "data": DATA,
        "stages": [{"command": stage.get("command"), **{key: stage.get(key) for key in recipe_keys},
                    "validation_accuracy": stage.get("metrics", metrics["validation"])["accuracy"]}
                   for stage in stages],
        "split": (f"twin-aware: images whose 64x64 grayscale correlation is >= {config['split']['twin_threshold']} "
                  f"are joined by union-find into groups and whole groups go to one side; "
                  f"{metrics['train_images']} train / {metrics['validation_images']} validation, "
                  f"{metrics['validation_images_with_twin_in_train']} validation images with a twin in training"),
        "three_d": THREE_D,
        "training_seconds_all_stages": round(sum(stage.get("seconds", 0) for stage in stages[:-1])
                                             + metrics["training_seconds"], 1),
    })
    first = stages[0]
    card["metrics"] = {
        "twin_aware_validation": metrics["validation"],
        "naive_vs_twin_aware_same_recipe": {
            "recipe_command": first.get("command"),
            "twin_aware_accuracy": first.get("metrics", metrics["validation"])["accuracy"],
            "naive_random_split_accuracy": naive["validation"]["accuracy"],
            "naive_random_split_recall": naive["validation"]["recall"],
            "naive_epochs_run": naive["epochs_run"],
            "naive_validation_images_with_twin_in_train": naive["validation_images_with_twin_in_train"],
            "naive_command": naive_command(naive_run),
        },
        "note": "validation = held-out twin groups of the training folder; the official Testing split was not seen",
    }
    return card


def naive_command(naive_run: Path) -> str | None:
    return json.loads((naive_run / "card.json").read_text())["training"]["config"].get("command")


if __name__ == "__main__":
    print(json.dumps(bundled_card(Path(sys.argv[1]), Path(sys.argv[2])), indent=2))
