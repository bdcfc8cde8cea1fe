"""BraTS scoring: Dice and HD95 per region (WT, TC, ET) with the challenge's empty-mask rules, and volumes in mL.

Rules (CONVENTIONS.md): both masks empty -> Dice 1, HD95 0; exactly one empty -> Dice 0, HD95 373.13 mm.
HD95 is measured in millimetres between the surface voxels of the two masks (a surface voxel is a mask voxel with a
6-neighbour outside the mask), as MONAI's ``compute_hausdorff_distance(percentile=95)``: the larger of the two
directed 95th percentiles. Distances come from Euclidean distance transforms with the voxel spacing, computed only
inside the bounding box of both masks (plus one voxel), which keeps a whole-head volume fast.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ...core import preprocess
from ...core.labels import REGIONS, regions
from ...core.preprocess import dice  # noqa: F401  (one Dice for masks, here among the metrics)

HD95_EMPTY_PENALTY_MM = 373.13
VOLUME_KEYS = ("necrosis", "edema", "enhancing", "WT", "TC", "ET")


def hd95(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> float:
    """95th-percentile Hausdorff distance in mm between two boolean (I, J, K) masks' surfaces, challenge rules."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    has_prediction, has_truth = bool(prediction.any()), bool(truth.any())
    if not has_prediction and not has_truth:
        return 0.0
    if has_prediction != has_truth:
        return HD95_EMPTY_PENALTY_MM
    to_truth, to_prediction = surface_distances(prediction, truth, spacing)
    return float(max(np.percentile(to_truth, 95), np.percentile(to_prediction, 95)))


def surface_distances(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(mm from each surface voxel of ``prediction`` to the nearest of ``truth``'s, and from each of ``truth``'s to
    the nearest of ``prediction``'s) for two non-empty boolean (I, J, K) masks."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    box = preprocess.bounding_box(prediction | truth, margin=1)
    # pad by one so that mask voxels on the volume's border count as surface, as they would with an outside of 0
    prediction = np.pad(box.apply(prediction), 1)
    truth = np.pad(box.apply(truth), 1)
    surface_prediction, surface_truth = _surface(prediction), _surface(truth)
    to_truth = ndimage.distance_transform_edt(~surface_truth, sampling=spacing)[surface_prediction]
    to_prediction = ndimage.distance_transform_edt(~surface_prediction, sampling=spacing)[surface_truth]
    return to_truth, to_prediction


def _surface(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with at least one 6-neighbour outside the mask."""
    return mask & ~ndimage.binary_erosion(mask)


def score_regions(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> dict[str, dict[str, float]]:
    """Dice and HD95 of WT, TC and ET for two class maps (0..3) on one grid: {region: {"dice", "hd95"}}."""
    if prediction.shape != truth.shape:
        raise ValueError(f"Prediction shape {prediction.shape} differs from the truth's {truth.shape}")
    predicted, true = regions(prediction), regions(truth)
    return {region: {"dice": dice(predicted[region], true[region]),
                     "hd95": hd95(predicted[region], true[region], spacing)} for region in REGIONS}


def volumes_ml(classes: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """Volumes in mL of necrosis, edema, enhancing (classes 1, 2, 3) and of the regions WT, TC, ET."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    counts = np.bincount(np.asarray(classes, dtype=np.intp).ravel(), minlength=4)
    necrosis, edema, enhancing = (float(counts[index]) * voxel_ml for index in (1, 2, 3))
    values = {"necrosis": necrosis, "edema": edema, "enhancing": enhancing,
              "WT": necrosis + edema + enhancing, "TC": necrosis + enhancing, "ET": enhancing}
    return {key: round(value, 3) for key, value in values.items()}
