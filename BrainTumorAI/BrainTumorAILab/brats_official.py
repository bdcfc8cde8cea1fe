"""The BraTS challenge's own figures (its 2023+ definition), as its package ``BraTS_evaluation`` 0.0.10 computes them
(panoptica 2.1.7, config ``gli``, CSV of ``parse_seg_results``), beside the project's (metrics.py). Our own code;
the package (AGPL, pandas < 3) is not a dependency. Per region (WT, TC, ET):

- Lesions are the 26-connected components of each mask, with no dilation and no minimum size.
- Matching is one to one, maximising the summed Dice (scipy's ``linear_sum_assignment`` on 1 - Dice, truth lesions as
  rows) over the pairs whose Dice is at least 1e-6. A matched pair is a true positive; an unmatched truth lesion a
  false negative, an unmatched predicted one a false positive. F1 = TP / (TP + (FP + FN) / 2).
- Lesion-wise Dice and HD95 are means over the matched pairs only: unmatched lesions count through F1 alone. With no
  match: NaN when neither map has a lesion, else Dice 0 and HD95 inf (the package leaves inf).
- HD95, lesion-wise and whole-region, is the 95th percentile of the two directed surface-distance sets pooled into one
  (surfaces and distances as metrics.hd95). Our HD95 takes the larger of the two directed 95th percentiles; the pooled
  one lies between the two, nearer the side with more surface voxels, so it is at most ours (bar the percentile's
  interpolation between neighbouring distances on tiny surfaces).
- Whole-region ("global") Dice is ours, except NaN when both masks are empty (ours: 1). Whole-region HD95 is NaN when
  both are empty and 373 when the masks do not overlap (the package's stand-in for inf; ours measures the distance
  when both are present and says 373.13 when one is empty).

Distances are in mm with each axis's own spacing. The package measures the whole-region HD95 in voxels, and when it
reads NIfTI files (through SimpleITK) it pairs the spacing with the axes in reverse order; on the 1 mm isotropic grids
of the BraTS releases this makes no difference.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from BrainTumorAILib.core.labels import REGIONS, regions
from BrainTumorAILib.core.preprocess import bounding_box
from BrainTumorAILib.tasks.segmentation.metrics import surface_distances

DEFINITION = "BraTS 2023+ definition (as BraTS_evaluation 0.0.10)"
HD95_NO_OVERLAP = 373.0
MATCH_MIN_DICE = 1e-6
METRICS = ("lesion_dice", "lesion_hd95", "dice", "hd95", "tp", "fp", "fn", "f1")
PREFIX = "brats23"
COLUMNS = tuple(f"{PREFIX}_{region}_{metric}" for region in REGIONS for metric in METRICS)
_NEIGHBOURS = np.ones((3, 3, 3), dtype=bool)


def pooled_hd95(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> float:
    """HD95 in mm of two non-empty boolean (I, J, K) masks: the 95th percentile of both directed surface-distance sets
    together."""
    to_truth, to_prediction = surface_distances(prediction, truth, spacing)
    return float(np.percentile(np.concatenate((to_truth, to_prediction)), 95))


def match_lesions(predicted: np.ndarray, n_predicted: int, true: np.ndarray, n_true: int
                  ) -> list[tuple[int, int, float]]:
    """(truth lesion, predicted lesion, Dice) of the one-to-one matching, for two lesion maps (0 background, 1..n)."""
    if n_predicted == 0 or n_true == 0:
        return []
    both = (predicted > 0) & (true > 0)
    pair_index = true[both].astype(np.int64) * (n_predicted + 1) + predicted[both]
    overlap = np.bincount(pair_index, minlength=(n_true + 1) * (n_predicted + 1)).reshape(n_true + 1, -1)[1:, 1:]
    true_sizes = np.bincount(true.ravel(), minlength=n_true + 1)[1:]
    predicted_sizes = np.bincount(predicted.ravel(), minlength=n_predicted + 1)[1:]
    dice = 2.0 * overlap / (true_sizes[:, None] + predicted_sizes[None, :])
    cost = np.where(dice >= MATCH_MIN_DICE, 1.0 - dice, 1.0 + MATCH_MIN_DICE)
    rows, columns = linear_sum_assignment(cost)
    return [(int(row) + 1, int(column) + 1, float(dice[row, column]))
            for row, column in zip(rows, columns) if cost[row, column] < 1.0]


def score_region(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """The official figures (METRICS) of one region, two boolean (I, J, K) masks on one grid."""
    predicted, n_predicted = ndimage.label(prediction, _NEIGHBOURS)
    true, n_true = ndimage.label(truth, _NEIGHBOURS)
    matches = match_lesions(predicted, n_predicted, true, n_true)
    tp, any_lesion = len(matches), n_predicted + n_true > 0
    if matches:
        predicted_boxes, true_boxes = ndimage.find_objects(predicted), ndimage.find_objects(true)
        distances = []
        for true_label, predicted_label, _ in matches:
            box = _union(true_boxes[true_label - 1], predicted_boxes[predicted_label - 1])
            distances.append(pooled_hd95(predicted[box] == predicted_label, true[box] == true_label, spacing))
        lesion_dice, lesion_hd95 = float(np.mean([dice for _, _, dice in matches])), float(np.mean(distances))
    else:
        lesion_dice, lesion_hd95 = (0.0, math.inf) if any_lesion else (math.nan, math.nan)
    overlap = int(np.count_nonzero(prediction & truth))
    if overlap:
        dice = 2.0 * overlap / (int(np.count_nonzero(prediction)) + int(np.count_nonzero(truth)))
        hd95 = pooled_hd95(prediction, truth, spacing)
    else:
        dice, hd95 = (0.0, HD95_NO_OVERLAP) if any_lesion else (math.nan, math.nan)
    f1 = tp / (tp + 0.5 * (n_predicted - tp) + 0.5 * (n_true - tp)) if tp else (0.0 if any_lesion else math.nan)
    return {"lesion_dice": lesion_dice, "lesion_hd95": lesion_hd95, "dice": dice, "hd95": hd95,
            "tp": tp, "fp": n_predicted - tp, "fn": n_true - tp, "f1": f1}


def score_regions(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> dict[str, dict[str, float]]:
    """The official figures of WT, TC and ET for two class maps (0..3) on one grid: {region: {metric: value}}."""
    if prediction.shape != truth.shape:
        raise ValueError(f"Prediction shape {prediction.shape} differs from the truth's {truth.shape}")
    box = bounding_box((prediction > 0) | (truth > 0), margin=1)  # the tumours' box: the same lesions, less to scan
    predicted, true = regions(box.apply(prediction)), regions(box.apply(truth))
    return {region: score_region(predicted[region], true[region], spacing) for region in REGIONS}


def columns(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """``score_regions``'s figures as COLUMNS: {"brats23_WT_lesion_dice": ..., ...}."""
    return {f"{PREFIX}_{region}_{metric}": scores[region][metric] for region in REGIONS for metric in METRICS}


def by_region(row: dict[str, object]) -> list[dict[str, object]]:
    """One row of COLUMNS (and "case") as one row per region: {"case", "region", *METRICS}."""
    return [{"case": row["case"], "region": region,
             **{metric: row[f"{PREFIX}_{region}_{metric}"] for metric in METRICS}} for region in REGIONS]


def mean(values: Sequence[float]) -> float:
    """The mean over the values that are not NaN (NaN when none is), as the package's summary takes it."""
    present = [float(value) for value in values if not math.isnan(float(value))]
    return float(np.mean(present)) if present else math.nan


def _union(first: tuple[slice, ...], second: tuple[slice, ...]) -> tuple[slice, ...]:
    return tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(first, second))
