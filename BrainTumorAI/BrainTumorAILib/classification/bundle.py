"""Make a trained classifier the bundled one: copy its weights into Resources/Models and print its model card.

The card is the run's ``card.json`` completed with what only the two runs together say: the accuracy of the same
recipe on the naive random split beside the twin-aware one, the data, the command, and the 3D decision.
Usage: ``python -m BrainTumorAILib.classification.bundle TWIN_RUN NAIVE_RUN`` (prints the models.json entry).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..registry import MODELS_DIR
from ..weights import sha256_of

DATA = ("Brain Tumor MRI Dataset (M. Nickparvar, Kaggle, CC0; a merge of figshare, SARTAJ and Br35H), training split "
        "as mirrored in KomalChaudhari8/BRAIN_TUMOR_APP: 4,289 jpgs (224 px) in ../shared/data/classification/"
        "masoud-train, from which images with a near-twin in the official Testing split were already removed")
THREE_D = ("No 3D tumour-type classifier is trained: the 3D data here (4 BraTS 2013 gliomas, BraTS 2023 glioma and "
           "metastasis samples, one TCGA glioma) has no meningioma, pituitary or tumour-free studies, so a 3D type "
           "head could be neither trained nor validated honestly. A study's type is given by the 27-slice rule with "
           "this 2D network; whether a tumour is present in 3D is the segmentation-derived score (the pipeline's "
           "whole-tumour volume volumes_ml.WT > 0 from segment_case), not a separate model.")


def bundled_card(twin_run: Path, naive_run: Path) -> dict[str, Any]:
    """The models.json entry for ``twin_run``'s network, with ``naive_run``'s accuracy beside it."""
    card = json.loads((twin_run / "card.json").read_text())
    metrics = json.loads((twin_run / "metrics.json").read_text())
    naive = json.loads((naive_run / "metrics.json").read_text())
    target = MODELS_DIR / f"{card['id']}.safetensors"
    shutil.copyfile(twin_run / "model.safetensors", target)
    card["weights"] = {"file": target.name, "sha256": sha256_of(target), "size_bytes": target.stat().st_size,
                       "format": "safetensors"}
    card["default"] = True
    config = card["training"].pop("config")
    epochs = naive["epochs_run"]
    twin_at_same_epochs = max(entry["val_accuracy"] for entry in metrics["history"][:epochs])
    card["training"].update({
        "data": DATA, "command": config.get("command"), "config": f"Resources/Configs/classification/"
                                                                   f"{config['name'].replace('classifier-', '')}.json",
        "recipe": {key: config[key] for key in ("image_size", "loss", "optimiser", "batch_size", "epochs",
                                                "early_stopping", "reduce_lr", "augmentation", "split")},
        "split": (f"twin-aware: images whose 64x64 grayscale correlation is >= {config['split']['twin_threshold']} "
                  f"are joined by union-find into groups and whole groups go to one side; "
                  f"{metrics['train_images']} train / {metrics['validation_images']} validation, "
                  f"{metrics['validation_images_with_twin_in_train']} validation images with a twin in training"),
        "three_d": THREE_D,
    })
    card["metrics"] = {
        "twin_aware_validation": metrics["validation"],
        "naive_random_split_validation": {
            "accuracy": naive["validation"]["accuracy"], "recall": naive["validation"]["recall"],
            "epochs": epochs, "validation_images_with_twin_in_train": naive["validation_images_with_twin_in_train"],
            "command": "braintumorai train classification --config "
                       "BrainTumorAI/Resources/Configs/classification/resnet10-2d-randomsplit.json",
            "twin_aware_accuracy_within_the_same_epochs": twin_at_same_epochs,
        },
        "note": "validation = held-out twin groups of the training folder; the official Testing split was not seen",
    }
    return card


if __name__ == "__main__":
    print(json.dumps(bundled_card(Path(sys.argv[1]), Path(sys.argv[2])), indent=2))
