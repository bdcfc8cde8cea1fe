"""The threshold baseline: bright FLAIR blob -> whole tumour, bright T1c rim -> enhancing, rim filled -> core."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image
from BrainTumorAILib.core.labels import regions
from BrainTumorAILib.tasks.segmentation.baseline import threshold_baseline
from BrainTumorAILib.tasks.segmentation.metrics import dice


def _head(rng: np.random.Generator) -> tuple[Image, Image, dict[str, np.ndarray]]:
    grid = np.mgrid[:48, :48, :40].astype(np.float32)
    radius = lambda centre: np.sqrt(sum((axis - c) ** 2 for axis, c in zip(grid, centre)))
    head = radius((24, 24, 20)) < 18
    lesion = radius((28, 22, 20)) < 7
    rim = lesion & (radius((28, 22, 20)) > 4.5)
    speck = radius((14, 30, 16)) < 1.5  # a small bright spot elsewhere: not the largest component
    flair = np.where(head, 1.0, 0.0) + 2.0 * (lesion | speck) + rng.normal(0, 0.05, head.shape) * head
    t1c = np.where(head, 1.0, 0.0) + 2.5 * rim + rng.normal(0, 0.05, head.shape) * head
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    truth = {"WT": lesion, "ET": rim, "TC": lesion & (radius((28, 22, 20)) < 7)}
    return Image(flair.astype(np.float32), affine), Image(t1c.astype(np.float32), affine), truth


def test_baseline_finds_lesion_rim_and_core(rng):
    flair, t1c, truth = _head(rng)
    found = regions(threshold_baseline(flair, t1c))
    assert dice(found["WT"], truth["WT"]) > 0.9
    assert dice(found["ET"], truth["ET"]) > 0.8
    assert dice(found["TC"], truth["TC"]) > 0.9  # the rim closed and filled covers the whole lesion
    assert not found["WT"][14, 30, 16]


def test_baseline_without_bright_flair_is_empty_and_grids_must_match(rng):
    flair, t1c, _ = _head(rng)
    flat = flair.with_array(np.where(flair.array > 0, 1.0, 0.0).astype(np.float32))
    assert not threshold_baseline(flat, t1c).any()
    shifted = Image(t1c.array, np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(InputError, match="not on the grid"):
        threshold_baseline(flair, shifted)
