"""Segmentation training configs (JSON files under Resources/Configs/segmentation).

A config names the network (a model card's ``architecture``), its ``inputs`` and ``outputs``, the shared
``preprocessing`` (``tasks/segmentation/inputs.py``) and ``inference`` settings, and the recipe: ``loss``,
``augmentation``, ``optimiser``, ``schedule``. Every field but the network's may be omitted and takes the default below.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.labels import CLASS_NAMES
from ..config_files import merge, read_config
from .datasets import LABEL_SCHEMES

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "preprocessing": {"normalisation": "zscore", "spacing_mm": None, "crop_margin_mm": 8.0},
    "inference": {"roi_size": [64, 64, 64], "overlap": 0.25, "sw_batch_size": 2},
    "loss": {"name": "dice_focal", "params": {}, "unlabelled_regions": {}},
    "augmentation": {
        "patch_size": [64, 64, 64], "samples_per_case": 2, "pos": 2.0, "neg": 1.0, "negatives": "anywhere",
        "class_ratios": None,
        "flip_prob": 0.5, "rotate_deg": 15.0, "scale": 0.15, "affine_prob": 0.3,
        "noise_std": 0.1, "noise_prob": 0.2, "shift": 0.1, "scale_intensity": 0.1, "intensity_prob": 0.3,
        "clinical": None, "lesion_paste": None,
    },
    "optimiser": {"lr": 3e-4, "weight_decay": 1e-5, "step_size": 50, "gamma": 0.5},
    "schedule": {"epochs": 50, "cases_per_epoch": 8, "cases_per_batch": 1, "patience": 15, "validate_every": 1,
                 "max_minutes": None, "average_from": None, "precision": "float32"},
}
LOSSES = ("dice_focal", "dice_ce")
PRECISIONS = ("float32", "bfloat16")  # the forward pass in training: float32, or bfloat16 autocast (weights float32)
NEGATIVES = ("anywhere", "brain")  # where background patches are centred (augment.py)
REQUIRED = ("name", "architecture", "inputs", "outputs")


@dataclasses.dataclass(frozen=True)
class SegmentationConfig:
    """A parsed config; ``raw`` is the merged JSON (defaults filled in), ``path`` where it was read."""

    raw: dict[str, Any]
    path: Path | None = None

    def __getattr__(self, key: str) -> Any:
        try:
            return self.raw[key]
        except KeyError:
            raise AttributeError(key) from None

    def card_fields(self) -> dict[str, Any]:
        """The fields a model card of this network copies: architecture, inputs, outputs, preprocessing, inference."""
        return {key: copy.deepcopy(self.raw[key])
                for key in ("architecture", "inputs", "outputs", "preprocessing", "inference")}


def parse_config(raw: dict[str, Any], path: Path | None = None) -> SegmentationConfig:
    """Check and complete a config dict; raise InputError naming the file and the problem."""
    where = f" in {path}" if path else ""
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise InputError(f"Training config lacks {', '.join(missing)}{where}")
    merged = merge(DEFAULTS, raw)
    if merged["loss"]["name"] not in LOSSES:
        raise InputError(f"Unknown loss '{merged['loss']['name']}' (choose {', '.join(LOSSES)}){where}")
    if merged["augmentation"]["negatives"] not in NEGATIVES:
        raise InputError(f"Unknown augmentation.negatives '{merged['augmentation']['negatives']}' (choose "
                         f"{', '.join(NEGATIVES)}){where}")
    ratios = merged["augmentation"]["class_ratios"]
    classes = len(CLASS_NAMES)  # patches are drawn from the class map, whatever the outputs
    if ratios is not None and not (isinstance(ratios, list) and len(ratios) == classes
                                   and all(isinstance(r, (int, float)) and r >= 0 for r in ratios) and any(ratios)):
        raise InputError(f"augmentation.class_ratios must be {classes} non-negative weights, one per class "
                         f"(background first), not {ratios!r}{where}")
    _check_lesion_paste(merged["augmentation"]["lesion_paste"], where)
    schedule = merged["schedule"]
    average_from = schedule["average_from"]
    if average_from is not None and not (isinstance(average_from, int) and 1 <= average_from <= schedule["epochs"]):
        raise InputError(f"schedule.average_from must be an epoch from 1 to {schedule['epochs']}, not "
                         f"{average_from!r}{where}")
    if schedule["precision"] not in PRECISIONS:
        raise InputError(f"schedule.precision must be one of {', '.join(PRECISIONS)}, not "
                         f"{schedule['precision']!r}{where}")
    outputs = merged["outputs"]
    if outputs.get("activation") not in ("softmax", "sigmoid") or not outputs.get("channels"):
        raise InputError(f"outputs needs activation softmax|sigmoid and channels{where}")
    _check_unlabelled_regions(merged["loss"]["unlabelled_regions"], outputs, merged["loss"]["name"], where)
    params = member_architecture(merged["architecture"]).get("params", {})
    if params.get("out_channels") != len(outputs["channels"]):
        raise InputError(f"architecture out_channels does not match the {len(outputs['channels'])} output "
                         f"channels{where}")
    if params.get("in_channels") != len(merged["inputs"]):
        raise InputError(f"architecture in_channels does not match the {len(merged['inputs'])} inputs{where}")
    unknown = sorted(set(merged["preprocessing"].get("optional_inputs", [])) - set(merged["inputs"]))
    if unknown:
        raise InputError(f"preprocessing.optional_inputs {unknown} are not among the inputs {merged['inputs']}{where}")
    return SegmentationConfig(merged, path)


def _check_lesion_paste(paste: Any, where: str) -> None:
    """``augmentation.lesion_paste``: null, or {"prob": 0..1, "margin_voxels": [low, high], "feather_voxels": > 0}
    (lesion_paste.py)."""
    if paste is None:
        return
    try:
        low, high = (float(m) for m in paste["margin_voxels"])
        valid = 0 <= float(paste["prob"]) <= 1 and 0 <= low <= high and float(paste["feather_voxels"]) > 0
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid:
        raise InputError('augmentation.lesion_paste must be null or {"prob": 0..1, "margin_voxels": [low, high], '
                         f'"feather_voxels": > 0}}, not {paste!r}{where}')


def _check_unlabelled_regions(unlabelled: Any, outputs: dict[str, Any], loss_name: str, where: str) -> None:
    """``loss.unlabelled_regions``: {label convention: [output channels its labels do not supervise]}, sigmoid
    region outputs only (a softmax class cannot be left out of its own normalisation)."""
    if not unlabelled:
        return
    if outputs.get("activation") != "sigmoid" or loss_name != "dice_ce" or not isinstance(unlabelled, dict):
        raise InputError("loss.unlabelled_regions needs sigmoid outputs, loss dice_ce and a {convention: [channels]} "
                         f"map{where}")
    for convention, channels in unlabelled.items():
        known = [scheme for _, scheme in LABEL_SCHEMES]
        if convention not in known:
            raise InputError(f"loss.unlabelled_regions: unknown label convention '{convention}' (known: "
                             f"{', '.join(known)}){where}")
        if not isinstance(channels, list) or set(channels) - set(outputs["channels"]):
            raise InputError(f"loss.unlabelled_regions['{convention}'] must list output channels of "
                             f"{outputs['channels']}, not {channels!r}{where}")


def member_architecture(architecture: dict[str, Any]) -> dict[str, Any]:
    """The network of an architecture entry: itself, or the member network of an ``ensemble``."""
    if architecture.get("name") == "ensemble":
        return architecture.get("params", {}).get("network", {})
    return architecture


def load_config(path: str | os.PathLike) -> SegmentationConfig:
    """Read a JSON training config."""
    return parse_config(read_config(path), Path(path))
