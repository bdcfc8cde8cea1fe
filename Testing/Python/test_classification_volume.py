"""A study's tumour type from slice votes: slice choice (27 around the head, 15 through a tumour), thin volumes,
orientation through the affine, and each rule of the decision."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.image import Image, reorient
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.tasks.classification import classify_case
from BrainTumorAILib.tasks.classification.volume import (UNCERTAIN, decide, reformatted_views, render_slice,
                                                          slice_positions, volume_slices)
from classification_models import tiny_registry  # noqa: F401 (fixture)


def test_phantom_case_gives_27_votes_and_shares(tiny_registry):
    phantom = make_phantom(3, shape=(64, 64, 48), spacing=(3.0, 3.0, 3.0), oblique=True)
    result = classify_case(Case(phantom.images, "phantom"))
    assert result["sequence"] == "t1c" and result["slices"] == 27
    assert {view: len(votes) for view, votes in result["votes"].items()} == {"sagittal": 9, "coronal": 9, "axial": 9}
    assert sum(result["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(result["vote_counts"].values()) == 27
    assert result["label"] in (*result["shares"], UNCERTAIN) and result["model"]["id"] == "classifier-tiny"
    assert result["warnings"] == []  # 3 mm voxels: no view is a reformat across thick slices


def test_views_across_thick_slices_are_named_whatever_the_axis_order(tiny_registry):
    head = np.zeros((40, 40, 8), np.float32)
    head[5:35, 8:32, 1:7] = np.random.default_rng(0).uniform(50, 100, (30, 24, 6))
    axial = Image(head, np.diag([1.0, 1.0, 5.5, 1.0]))
    assert reformatted_views(axial) == {"sagittal": 5.5, "coronal": 5.5}
    coronal = Image(np.ascontiguousarray(head.transpose(0, 2, 1)), np.array(  # axes L, S, A: 5 mm coronal slices
        [[-0.9, 0, 0, 0], [0, 0, 5.0, 0], [0, 0.9, 0, 0], [0, 0, 0, 1.0]]))
    assert reformatted_views(coronal) == {"sagittal": 5.0, "axial": 5.0}
    assert reformatted_views(Image(head, np.diag([1.0, 1.0, 3.0, 1.0]))) == {}
    result = classify_case(Case({"t1c": axial}, "thick"))
    assert result["warnings"] == ["the sagittal and coronal slices are reformatted across 5.5 mm slices, unlike the "
                                  "2D training images (native acquisitions): 18 of the 27 votes come from them"]
    assert result["reason"] and result["slices_through"] == "head" and result["tumour_volume_ml"] is None


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


def _slices(*groups: tuple[int, list[float]]) -> np.ndarray:
    """(N, 4) slice probabilities (glioma, meningioma, notumor, pituitary) from (count, row) groups."""
    return np.array([row for count, row in groups for _ in range(count)], dtype=np.float32)


GLIOMA, MENINGIOMA = [0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]
HEALTHY = [0.1, 0.05, 0.8, 0.05]


def test_all_slices_voting_notumor_give_notumor_below_the_95_percent_share():
    decision = decide(_slices((27, [0.02, 0.01, 0.90, 0.07])))
    assert decision.label == "notumor" and decision.reason == "all 27 slices voted notumor"
    assert decision.shares["notumor"] == pytest.approx(0.90) and decision.vote_counts["notumor"] == 27


def test_a_95_percent_notumor_share_gives_notumor_despite_a_few_tumour_votes():
    decision = decide(_slices((25, [0.0, 0.0, 1.0, 0.0]), (2, [0.45, 0.0, 0.35, 0.2])))
    assert decision.vote_counts["glioma"] == 2 and decision.label == "notumor" and "95%" in decision.reason


def test_an_empty_segmentation_and_a_notumor_majority_give_notumor():
    slices = _slices((9, HEALTHY), (6, GLIOMA))
    decision = decide(slices, tumour_ml=0.3)
    assert decision.label == "notumor"
    assert "no tumour (0.30 mL < 1 mL)" in decision.reason and "9 of 15" in decision.reason
    assert decide(slices).label == "glioma"  # without a segmentation a tumour minority still names its class


def test_a_segmented_tumour_with_notumor_slices_is_uncertain():
    decision = decide(_slices((12, HEALTHY), (3, GLIOMA)), tumour_ml=35.0)
    assert decision.label == UNCERTAIN
    assert decision.reason == "the segmentation found a 35.0 mL tumour but 12 of 15 slices voted notumor"
    assert decide(_slices((15, HEALTHY)), tumour_ml=35.0).label == UNCERTAIN  # even when every slice says so


def test_tumour_votes_with_nothing_segmented_are_uncertain():
    decision = decide(_slices((4, HEALTHY), (23, GLIOMA)), tumour_ml=0.0)
    assert decision.label == UNCERTAIN and decision.reason.startswith("23 of 27 slices voted a tumour class")


def test_votes_split_between_two_tumour_classes_are_uncertain_and_name_both():
    decision = decide(_slices((7, [0.6, 0.3, 0.05, 0.05]), (6, [0.3, 0.6, 0.05, 0.05]), (2, HEALTHY)),
                      tumour_ml=20.0)
    assert decision.label == UNCERTAIN
    assert "split between glioma (7 votes" in decision.reason and "meningioma (6 votes" in decision.reason


def test_a_clear_glioma_majority_gives_glioma():
    decision = decide(_slices((12, GLIOMA), (2, MENINGIOMA), (1, HEALTHY)), tumour_ml=20.0)
    assert decision.label == "glioma" and decision.reason == "glioma has 12 of the 14 tumour votes (15 slices)"
    assert decision.vote_counts == {"glioma": 12, "meningioma": 2, "notumor": 1, "pituitary": 0}


def test_a_vote_tie_goes_to_the_larger_share_when_the_shares_are_far_apart():
    decision = decide(_slices((5, [0.9, 0.0, 0.05, 0.05]), (5, [0.05, 0.0, 0.4, 0.55])))
    assert decision.vote_counts["glioma"] == decision.vote_counts["pituitary"] == 5
    assert decision.label == "glioma"


def _head_with_blob() -> tuple[np.ndarray, np.ndarray]:
    """A (60, 64, 40) head and a tumour box at RAS voxels i 35..45, j 10..50, k 18..22 (centre 40, 30, 20)."""
    head = np.zeros((60, 64, 40), np.float32)
    head[4:56, 4:60, 2:38] = np.random.default_rng(2).uniform(50, 100, (52, 56, 36))
    tumour = np.zeros(head.shape, bool)
    tumour[35:46, 10:51, 18:23] = True
    return head, tumour


def test_slices_through_a_tumour_are_centred_on_it_and_stay_inside_it():
    head, tumour = _head_with_blob()
    spacing = np.diag([1.0, 1.0, 2.5, 1.0])  # axial 2.5 mm: 5 mm = 2 slices, 10 mm = 4 slices
    flipped = np.array([[-1.0, 0, 0, 59], [0, -1.0, 0, 63], [0, 0, 2.5, 0], [0, 0, 0, 1.0]])  # LPS voxel order
    for affine, head_array, tumour_array in ((spacing, head, tumour),
                                             (flipped, head[::-1, ::-1].copy(), tumour[::-1, ::-1].copy())):
        slices, where = volume_slices(Image(head_array, affine), 64, 0.5, tumour_array)
        assert slices.shape == (15, 64, 64)
        positions = {(place["view"], place["offset_mm"]): place["index_ras"] for place in where}
        assert positions == {
            ("sagittal", 0): 40, ("sagittal", -5): 35, ("sagittal", 5): 45, ("sagittal", -10): 35,
            ("sagittal", 10): 45,  # the box is 11 voxels wide: +-10 mm clamp to its edges
            ("coronal", 0): 30, ("coronal", -5): 25, ("coronal", 5): 35, ("coronal", -10): 20, ("coronal", 10): 40,
            ("axial", 0): 20, ("axial", -5): 18, ("axial", 5): 22, ("axial", -10): 18, ("axial", 10): 22,
        }


def test_bundled_classifier_reads_slices_through_the_phantom_tumour():
    phantom = make_phantom(7, shape=(80, 80, 64), spacing=(2.0, 2.0, 2.0))
    case = Case(phantom.images, "phantom")
    result = classify_case(case, device="cpu", tumour=phantom.labels)
    labels = phantom.labels.array
    assert result["slices"] == 15 and result["slices_through"] == "tumour" and result["sequence"] == "t1c"
    assert result["tumour_volume_ml"] == pytest.approx(np.count_nonzero(labels) * 8 / 1000, abs=1e-3)
    centre = np.argwhere(labels > 0).mean(axis=0)  # the phantom's grid is RAS already
    for view, axis in (("sagittal", 0), ("coronal", 1), ("axial", 2)):
        middle = next(vote for vote in result["votes"][view] if vote["offset_mm"] == 0)
        assert middle["index_ras"] == round(centre[axis])
    assert result["label"] in ("glioma", "meningioma", "notumor", "pituitary", UNCERTAIN) and result["reason"]
    empty = classify_case(case, device="cpu", tumour=phantom.labels.with_array(np.zeros_like(labels)))
    assert empty["slices"] == 27 and empty["slices_through"] == "head" and empty["tumour_volume_ml"] == 0.0
