"""A model card for a training run's output folder, so that ``segment --trained DIR`` runs weights never registered
(for example each leave-one-case-out fold) through exactly the path of the bundled model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.registry import ModelCard
from BrainTumorAILib.core.weights import sha256_of
from .config import SegmentationConfig, parse_config

WEIGHTS = "model.safetensors"
SUMMARY = "training.json"


def run_summary(folder: str | Path) -> dict[str, Any]:
    """The ``training.json`` of a finished run folder, its ``config`` completed with today's defaults (so runs from
    before an option existed compare equal to runs at its default); InputError when it or the weights are missing,
    or it holds no readable config."""
    folder = Path(folder)
    summary_path = folder / SUMMARY
    for path in (summary_path, folder / WEIGHTS):
        if not path.is_file():
            raise InputError(f"Not a finished training run (no {path.name}): {folder}")
    try:
        summary = json.loads(summary_path.read_text())
        summary["config"] = parse_config(summary["config"], summary_path).raw
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise InputError(f"Training summary is unreadable ({error}): {summary_path}") from error
    return summary


def weights_dice(summary: dict[str, Any]) -> dict[str, float] | None:
    """Validation Dice of the weights a run saved: its averaged weights' when it averaged, else its best epoch's."""
    averaged = summary.get("averaged") or {}
    return averaged.get("dice") or summary.get("validation_dice")


def card_of_run(folder: str | Path) -> ModelCard:
    """The card of ``folder`` (written by ``train segmentation``): its config's network, inputs, outputs,
    preprocessing and inference, and its ``model.safetensors`` checked by sha256 like any bundled weights."""
    folder = Path(folder)
    summary, weights_path = run_summary(folder), folder / WEIGHTS
    config = SegmentationConfig(summary["config"], folder / SUMMARY)  # run_summary parsed it
    return ModelCard(
        id=f"run:{folder.resolve().name}", task="segmentation", title=f"training run {folder}", version="run",
        weights={"file": WEIGHTS, "sha256": sha256_of(weights_path), "size_bytes": weights_path.stat().st_size,
                 "format": "safetensors"},
        license="as the training data", intended_use="evaluation of a training run",
        training={"command": summary.get("command"), "validation_cases": summary.get("validation_cases", [])},
        metrics={"validation_dice": weights_dice(summary)}, models_dir=folder.resolve(),
        **config.card_fields(),
    )
