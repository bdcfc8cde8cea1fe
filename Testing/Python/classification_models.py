"""Generated 2D class images and a tiny classifier trained on them by the real trainer, in a temporary registry.

Each class draws a bright disc in its own region of a noisy head-like ellipse, so a tiny network can tell the
classes apart within two epochs; ``BRAINTUMORAI_MODELS`` points the engine at the temporary models.json.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from BrainTumorAILab.classification.config import REPO_ROOT
from BrainTumorAILab.classification.train import train
from BrainTumorAILib.tasks.classification.dataset import CLASSES

TINY_CONFIG = REPO_ROOT / "BrainTumorAI" / "Resources" / "Configs" / "classification" / "tiny.json"
CENTRES = {"glioma": (0.35, 0.35), "meningioma": (0.35, 0.7), "notumor": None, "pituitary": (0.7, 0.5)}


def class_image(label: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A (size, size) uint8 slice: a textured ellipse 'head' and a bright disc where ``label``'s tumour sits."""
    from scipy.ndimage import gaussian_filter

    y, x = np.mgrid[0:size, 0:size] / size
    texture = gaussian_filter(rng.normal(0, 1, (size, size)), 3)
    ry, rx = rng.uniform(0.3, 0.45, 2)
    head = (((x - 0.5) / rx) ** 2 + ((y - 0.5) / ry) ** 2) < 1
    image = head * (0.3 + 0.3 * texture / np.abs(texture).max())  # each image its own shape and texture: no twins
    if CENTRES[label] is not None:
        cy, cx = np.array(CENTRES[label]) + rng.uniform(-0.04, 0.04, 2)
        image += 0.6 * (((x - cx) ** 2 + (y - cy) ** 2) < 0.14 ** 2)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_dataset(root: Path, per_class: int, seed: int = 0, folder_names: tuple[str, ...] = CLASSES) -> Path:
    """``root/<folder>/<n>.png`` for each class (folder names may use the *_tumor scheme)."""
    rng = np.random.default_rng(seed)
    for label, folder in zip(CLASSES, folder_names):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            PILImage.fromarray(class_image(label, rng)).save(root / folder / f"{index:03d}.png")
    return root


def tiny_config(data: Path, **overrides: Any) -> dict[str, Any]:
    config = json.loads(TINY_CONFIG.read_text())
    config.update({"data": str(data), "max_images_per_class": None, **overrides})
    return config


def train_tiny_registry(folder: Path, monkeypatch: Any) -> tuple[Path, dict[str, Any]]:
    """Train the tiny config on generated images; write models.json (default classifier) beside its weights."""
    data = write_dataset(folder / "data", per_class=16)
    metrics = train(tiny_config(data), folder / "run", threads=1, progress=False)
    card = json.loads((folder / "run" / "card.json").read_text())
    card["default"] = True
    shutil.copy(folder / "run" / "model.safetensors", folder / card["weights"]["file"])
    registry = folder / "models.json"
    registry.write_text(json.dumps({"version": 1, "models_dir": ".", "models": [card]}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(registry))
    return registry, metrics


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory: pytest.TempPathFactory):
    """(models.json path, training metrics) of a tiny classifier, the engine's registry while the module runs."""
    monkeypatch = pytest.MonkeyPatch()
    registry, metrics = train_tiny_registry(tmp_path_factory.mktemp("classifier"), monkeypatch)
    yield registry, metrics
    monkeypatch.undo()
