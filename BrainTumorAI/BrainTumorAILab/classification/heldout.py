"""Registered classifiers scored as deployed (their card's standardisation and flip averaging) on a training run's
held-out images, whole and skull-stripped (``augment.strip_skulls`` on every image, one fixed seed).

Usage: ``python -m BrainTumorAILab.classification.heldout RUN_DIR MODEL_ID [MODEL_ID ...]`` prints one JSON line per
model and held-out set: accuracy and recall per class, whole and stripped. RUN_DIR's ``metrics.json`` names the
held-out files (``validation_files`` and ``brightness_holdout_files``); the data folder is its config's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from BrainTumorAILib.tasks.classification.dataset import CLASSES, read_image
from BrainTumorAILib.tasks.classification.predict import Classifier
from .augment import strip_skulls
from .config import data_dir

STRIP_SEED = 2026


def held_out_sets(run: Path) -> dict[str, list[Path]]:
    """{set name: image paths} of a run's held-out sets."""
    metrics = json.loads((run / "metrics.json").read_text())
    root = data_dir(json.loads((run / "card.json").read_text())["training"]["config"])
    return {name.removesuffix("_files"): [root / entry for entry in metrics[name]]
            for name in ("validation_files", "brightness_holdout_files") if name in metrics}


def scores(classifier: Classifier, paths: list[Path]) -> dict[str, dict]:
    """Accuracy and recall per class of ``classifier`` on the images, whole and stripped."""
    labels = np.array([CLASSES.index(path.parent.name) for path in paths])
    images = np.stack([read_image(path, classifier.image_size, classifier.frames_head) for path in paths])
    out = {}
    for kind, batch in (("whole", images), ("stripped", strip_skulls(images, 1.0, np.random.default_rng(STRIP_SEED)))):
        predicted = classifier.probabilities(batch).argmax(1)
        out[kind] = {"accuracy": round(float((predicted == labels).mean()), 4),
                     "recall": {name: round(float((predicted[labels == index] == index).mean()), 4)
                                for index, name in enumerate(CLASSES) if np.any(labels == index)}}
    return out


def main(argv: list[str]) -> int:
    run, models = Path(argv[0]), argv[1:]
    sets = held_out_sets(run)
    for model in models:
        classifier = Classifier.load(model, "cpu")
        for name, paths in sets.items():
            print(json.dumps({"model": model, "held_out": name, "images": len(paths), **scores(classifier, paths)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
