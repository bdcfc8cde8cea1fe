"""A tiny skull-stripping model trained in seconds on synthetic heads, in a temporary registry, for the tests.

It runs the real training code (``train_stripper``) and reaches the engine through ``BRAINTUMORAI_MODELS`` and a
``file://`` weights URL, so loading, checksum and inference are the real paths.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

TINY_CONFIG: dict[str, Any] = {
    "seed": 3,
    "architecture": {"name": "ResidualUNet3D",
                     "params": {"in_channels": 1, "out_channels": 1, "features": [4, 8, 16], "dropout": [0.0, 0.0]}},
    "preprocessing": {"spacing_mm": 6.0, "multiple": 4},
    "synthesis": {"grid_shape": [32, 40, 32], "real_contrast_prob": 1.0, "stripped_prob": 0.3, "fov_cut_prob": 0.0,
                  "thick_slice_prob": 0.0, "oblique_prob": 0.0},
    "crop": [32, 40, 32],
    "batch_size": 2,
    "iterations": 12,
    "lr": 0.02,
    "validation_heads": 2,
    "validate_every": 12,
}


def train_tiny(folder: Path) -> tuple[dict[str, Any], Path]:
    """Train the tiny config into ``folder``; return (summary, weights path)."""
    from BrainTumorAILab.stripping.training import train_stripper

    summary = train_stripper(TINY_CONFIG, folder, device="cpu", progress=False, log=lambda line: None)
    return summary, folder / "weights.safetensors"


def write_strip_registry(folder: Path, weights: Path, monkeypatch: Any, inputs: list[str] | None = None) -> Path:
    """A models.json holding one skull-stripping card for ``weights``; the engine is pointed at it."""
    card = {
        "id": "tiny-strip", "task": "skull_stripping", "title": "tiny test stripper", "version": "0",
        "default": True, "architecture": TINY_CONFIG["architecture"], "inputs": inputs or ["any"],
        "outputs": {"activation": "sigmoid", "channels": ["brain"]},
        "preprocessing": TINY_CONFIG["preprocessing"],
        "inference": {"threshold": 0.5, "roi_size": TINY_CONFIG["crop"]},
        "weights": {"url": weights.as_uri(), "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                    "size_bytes": weights.stat().st_size, "format": "safetensors"},
        "license": "test", "intended_use": "tests", "training": {}, "metrics": {},
    }
    registry = folder / "models.json"
    registry.write_text(json.dumps({"version": 1, "models": [card]}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(registry))
    return registry
