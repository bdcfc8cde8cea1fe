"""Seed 004's 27-slice volume rule: slice choice, thin volumes, orientation through the affine, the 95 % rule."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.case import Case
from BrainTumorAILib.classification import classify_case
from BrainTumorAILib.classification.volume import decide, render_slice, slice_positions, volume_slices
from BrainTumorAILib.image import Image, reorient
from BrainTumorAILib.phantom import make_phantom
from classification_models import tiny_registry  # noqa: F401 (fixture)


def test_phantom_case_gives_27_votes_and_shares(tiny_registry):
    phantom = make_phantom(3, shape=(64, 64, 48), spacing=(3.0, 3.0, 3.0), oblique=True)
    result = classify_case(Case(phantom.images, "phantom"))
    assert result["sequence"] == "t1c" and result["slices"] == 27
    assert {view: len(votes) for view, votes in result["votes"].items()} == {"sagittal": 9, "coronal": 9, "axial": 9}
    assert sum(result["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(result["vote_counts"].values()) == 27
    assert result["label"] in result["shares"] and result["model"]["id"] == "classifier-tiny"


def test_thin_volume_clamps_offsets_and_never_fails():
    positions = slice_positions(0, 25, 5.5)
    assert [index for _, index in positions] == [12, 11, 13, 10, 14, 9, 15, 8, 16]
    assert [index for _, index in slice_positions(0, 3, 5.5)] == [1, 0, 2, 0, 3, 0, 3, 0, 3]
    head = np.zeros((40, 40, 4), np.float32)
    head[5:35, 8:32, :] = np.random.default_rng(0).uniform(50, 100, (30, 24, 4))
    slices, where = volume_slices(Image(head, np.diag([1.0, 1.0, 5.5, 1.0])), 64, 0.5)
    assert slices.shape == (27, 64, 64) and np.isfinite(slices).all()
    assert all(0 <= place["index_ras"] < 4 for place in where if place["view"] == "axial")


def test_slices_follow_the_affine_not_the_array_axes():
    rng = np.random.default_rng(1)
    volume = np.zeros((48, 40, 32), np.float32)
    volume[4:44, 4:36, 3:29] = rng.uniform(20, 40, (40, 32, 26))
    volume[30:38, 25:33, 14:18] = 100.0  # a bright block: patient right (high i), anterior (high j) in RAS
    ras = Image(volume, np.diag([1.0, 1.0, 1.0, 1.0]))
    lps = Image(volume[::-1, ::-1, :].copy(), np.array([[-1.0, 0, 0, 47], [0, -1.0, 0, 39], [0, 0, 1.0, 0],
                                                          [0, 0, 0, 1.0]]))
    assert reorient(lps, "RAS").orientation == "RAS"
    first, _ = volume_slices(ras, 64, 0.0)
    second, _ = volume_slices(lps, 64, 0.0)
    np.testing.assert_allclose(first, second, atol=1e-5)
    axial = render_slice(volume / 100.0, (1.0, 1.0, 1.0), 2, 16, 64, 0.0)
    top_left = axial[:32, :32].mean()
    assert top_left > max(axial[32:, :32].mean(), axial[:32, 32:].mean(), axial[32:, 32:].mean())


def test_no_tumour_needs_95_percent_else_the_strongest_tumour_class():
    mostly_healthy = np.array([[0.02, 0.01, 0.90, 0.07]] * 27)
    assert decide(mostly_healthy)[0] == "pituitary"
    healthy = np.array([[0.01, 0.01, 0.97, 0.01]] * 27)
    label, shares = decide(healthy)
    assert label == "notumor" and shares["notumor"] == pytest.approx(0.97)
