"""Tiny segmentation model cards with random weights in a temporary registry, for the segmentation tests.

Weights are written as safetensors and reached through a ``file://`` URL, so the real download, checksum and
loading path of ``weights.py`` runs; ``BRAINTUMORAI_MODELS`` points the engine at the temporary models.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from BrainTumorAILib.inference.networks import build_network

SOFTMAX_OUTPUTS = {"activation": "softmax", "channels": ["background", "necrosis", "edema", "enhancing"]}
SIGMOID_OUTPUTS = {"activation": "sigmoid", "channels": ["TC", "WT", "ET"]}


def tiny_card(model_id: str, inputs: list[str], outputs: dict[str, Any], *, seed: int = 0) -> tuple[dict, dict]:
    """(card without weights, state dict) of a small random 3-level DynUNet taking ``inputs``, giving ``outputs``."""
    architecture = {"name": "monai.DynUNet",
                    "params": {"in_channels": len(inputs), "out_channels": len(outputs["channels"]),
                               "kernel_size": [3, 3, 3], "strides": [1, 2, 2], "upsample_kernel_size": [2, 2],
                               "filters": [4, 8, 16]}}
    torch.manual_seed(seed)
    state = build_network(architecture).state_dict()
    card = {
        "id": model_id, "task": "segmentation", "title": f"tiny test model {model_id}", "version": "0",
        "architecture": architecture, "inputs": inputs, "outputs": outputs,
        "preprocessing": {"normalisation": "zscore", "spacing_mm": None},
        "inference": {"roi_size": [48, 48, 48], "overlap": 0.25, "sw_batch_size": 1},
        "license": "test", "intended_use": "tests", "training": {}, "metrics": {},
    }
    return card, state


def write_registry(folder: Path, cards: list[tuple[dict, dict]], monkeypatch: Any) -> Path:
    """Write each state dict beside a models.json holding the cards (weights by file:// URL); use that registry."""
    entries = []
    for card, state in cards:
        path = folder / f"{card['id']}.safetensors"
        save_file({key: value.clone().contiguous() for key, value in state.items()}, str(path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append({**card, "weights": {"url": path.as_uri(), "sha256": digest,
                                             "size_bytes": path.stat().st_size, "format": "safetensors"}})
    registry = folder / "models.json"
    registry.write_text(json.dumps({"version": 1, "models": entries}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(registry))
    return registry


def write_phantom_case(folder: Path) -> Path:
    """A FLAIR + T1c phantom case (40x40x36 voxels of 5 mm, LPS) written as case_flair / case_t1c into ``folder``."""
    from BrainTumorAILib.core.image import reorient, save_image
    from BrainTumorAILib.core.phantom import make_phantom

    phantom = make_phantom(5, shape=(40, 40, 36), spacing=(5.0, 5.0, 5.0))
    for name in ("flair", "t1c"):
        save_image(reorient(phantom.images[name], "LPS"), folder / f"case_{name}.nii.gz")
    return folder
