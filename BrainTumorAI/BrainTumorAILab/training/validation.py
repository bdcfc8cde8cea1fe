"""Validation of a segmentation network on whole cases: per-region Dice (WT, TC, ET) on the cases' own grids."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
import torch

from BrainTumorAILib.core.labels import REGIONS, regions
from BrainTumorAILib.inference.windows import WindowSettings
from BrainTumorAILib.tasks.segmentation.inference import predict
from BrainTumorAILib.tasks.segmentation.inputs import NetworkGrid
from BrainTumorAILib.tasks.segmentation.metrics import dice
from BrainTumorAILib.tasks.segmentation.postprocess import PostprocessOptions, postprocess


@dataclasses.dataclass(frozen=True)
class PreparedCase:
    """A case ready for training and validation: network array (C, I', J', K'), labels (I', J', K') on the
    network grid, the grid, and the class map (I, J, K) on the case's own grid."""

    name: str
    image: np.ndarray
    label: np.ndarray
    grid: NetworkGrid
    classes: np.ndarray


def predict_classes(model: torch.nn.Module, case: PreparedCase, config: Any, device: torch.device) -> np.ndarray:
    """What ``segment`` does after preprocessing: sliding windows, back to the case's grid, postprocessing.

    Returns the class map (I, J, K) on the case's own grid."""
    settings = WindowSettings.from_card(config)
    prediction = predict(model, case.image, config.outputs, settings, device=device)
    options = PostprocessOptions.from_card(config.inference.get("postprocessing"))
    return postprocess(case.grid.classes_to_reference(prediction.probabilities, config.outputs),
                       case.grid.reference.spacing, options)


def region_dice(prediction: np.ndarray, truth: np.ndarray, names: tuple[str, ...] = REGIONS) -> dict[str, float]:
    """Dice per region of two class maps (I, J, K), challenge rule: both empty counts as 1."""
    predicted, actual = regions(prediction), regions(truth)
    return {name: dice(predicted[name], actual[name]) for name in names}


def evaluated_regions(outputs: Mapping[str, Any]) -> tuple[str, ...]:
    """The regions a model's outputs can be scored on: all three for softmax classes, else its region channels."""
    if outputs.get("activation", "softmax") == "softmax":
        return REGIONS
    return tuple(name for name in REGIONS if name in outputs["channels"])


def validate(model: torch.nn.Module, cases: list[PreparedCase], config: Any, device: torch.device
             ) -> dict[str, dict[str, float]]:
    """{case name: {region: Dice}} for every case, the model in eval mode during the pass."""
    names = evaluated_regions(config.outputs)
    was_training = model.training
    model.eval()
    try:
        return {case.name: region_dice(predict_classes(model, case, config, device), case.classes, names)
                for case in cases}
    finally:
        model.train(was_training)


def mean_dice(per_case: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean over cases of each region's Dice, plus their mean as ``"mean"``."""
    regions_seen = list(next(iter(per_case.values())))
    means = {region: float(np.mean([scores[region] for scores in per_case.values()])) for region in regions_seen}
    means["mean"] = float(np.mean(list(means.values())))
    return means
