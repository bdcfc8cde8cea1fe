"""The BraTS challenge's own figures (BrainTumorAILab.brats_official) agree with its package BraTS_evaluation 0.0.10.

The expected values are the values printed by BraTS_evaluation 0.0.10 on these arrays (brats_official_cases.py),
run once outside this repository (panoptica 2.1.7, the ``gli`` config, the package's own path: NIfTI files, then the
CSV of ``parse_seg_results``); the package is AGPL and needs pandas < 3, so it is not installed here. Each tuple is
(lesion-wise Dice, lesion-wise HD95, whole-region Dice, whole-region HD95, TP, FP, FN, F1) of one region.
"""

from __future__ import annotations

import math

import pytest
from brats_official_cases import apart_case, corner_case, edge_case, lesions_case, oedema_only_case, shifted

from BrainTumorAILab import brats_official
from BrainTumorAILib.core.image import load_image
from BrainTumorAILib.core.labels import REGIONS, from_convention
from BrainTumorAILib.tasks.segmentation.metrics import score_regions

INF, NAN = math.inf, math.nan
CASES = {"lesions_case": lesions_case, "edge_case": edge_case, "apart_case": apart_case,
         "oedema_only_case": oedema_only_case, "corner_case": corner_case}
PRINTED = {
    "lesions_case": {
        "WT": (0.724944, 1.303553, 0.753482, 10.793492, 4, 1, 1, 0.8),
        "TC": (0.763736, 1.071405, 0.749446, 1.414214, 3, 0, 1, 0.857143),
        "ET": (0.691336, 1.071405, 0.56447, 1.414214, 3, 0, 1, 0.857143),
    },
    "edge_case": {
        "WT": (0.857143, 1.0, 0.857143, 1.0, 1, 0, 0, 1.0),
        "TC": (0.0, INF, 0.0, 373.0, 0, 0, 1, 0.0),
        "ET": (0.0, INF, 0.0, 373.0, 0, 0, 1, 0.0),
    },
    "apart_case": {
        "WT": (0.0, INF, 0.0, 373.0, 0, 1, 1, 0.0),
        "TC": (0.0, INF, 0.0, 373.0, 0, 1, 1, 0.0),
        "ET": (0.0, INF, 0.0, 373.0, 0, 1, 1, 0.0),
    },
    "oedema_only_case": {
        "WT": (0.88189, 1.0, 0.88189, 1.0, 1, 0, 0, 1.0),
        "TC": (NAN, NAN, NAN, NAN, 0, 0, 0, NAN),
        "ET": (NAN, NAN, NAN, NAN, 0, 0, 0, NAN),
    },
    "corner_case": {
        "WT": (0.833333, 2.204313, 0.674699, 4.375475, 2, 0, 0, 1.0),
        "TC": (NAN, NAN, NAN, NAN, 0, 0, 0, NAN),
        "ET": (NAN, NAN, NAN, NAN, 0, 0, 0, NAN),
    },
}
# BraTS2021_00000's label map against itself moved by (2, -1, 1) voxels, both in the 2023 labels (4 read as 3)
PRINTED_REAL = {
    "WT": (0.664811, 1.825141, 0.891336, 2.236068, 2, 0, 0, 1.0),
    "TC": (0.893746, 2.44949, 0.893746, 2.44949, 1, 0, 0, 1.0),
    "ET": (0.747747, 2.236068, 0.747701, 2.236068, 1, 1, 1, 0.5),
}
# lesions_case with voxels of 1.0 x 1.5 x 2.0 mm: the package's evaluator given the arrays and this spacing (its
# lesion-wise HD95), and its HD95 function given the region masks and this spacing (the whole-region HD95 in mm)
PRINTED_ANISOTROPIC = {"WT": (2.15, 11.180340), "TC": (1.778689, 2.236068), "ET": (1.7, 2.236068)}


def assert_as_printed(scores: dict[str, dict[str, float]], printed: dict[str, tuple]) -> None:
    for region in REGIONS:
        got = tuple(scores[region][metric] for metric in brats_official.METRICS)
        for metric, value, expected in zip(brats_official.METRICS, got, printed[region]):
            where = f"{region} {metric}: {value} against the package's {expected}"
            if math.isnan(expected) or math.isinf(expected):
                assert (math.isnan(value) if math.isnan(expected) else value == expected), where
            else:
                assert value == pytest.approx(expected, abs=5e-5), where  # equal to 4 decimals


@pytest.mark.parametrize("name", ["lesions_case", "corner_case"])
def test_lesion_wise_figures_match_the_package(name):
    # lesions_case: two lesions found imperfectly, one missed, a two-voxel one found (no minimum size), a false
    # positive, one cut by the border; corner_case: cubes touching at a corner are one lesion (26-neighbours)
    prediction, truth = CASES[name]()
    assert_as_printed(brats_official.score_regions(prediction, truth, (1.0, 1.0, 1.0)), PRINTED[name])


@pytest.mark.parametrize("name", ["edge_case", "apart_case", "oedema_only_case"])
def test_missed_apart_and_empty_regions_score_as_the_package_says(name):
    # no match: lesion-wise Dice 0 and HD95 inf, whole-region HD95 373 without overlap; empty in both: NaN
    prediction, truth = CASES[name]()
    assert_as_printed(brats_official.score_regions(prediction, truth, (1.0, 1.0, 1.0)), PRINTED[name])


def test_anisotropic_voxels_are_measured_with_each_axis_spacing():
    prediction, truth = lesions_case()
    scores = brats_official.score_regions(prediction, truth, (1.0, 1.5, 2.0))
    for region, (lesion_hd95, hd95) in PRINTED_ANISOTROPIC.items():
        assert scores[region]["lesion_hd95"] == pytest.approx(lesion_hd95, abs=5e-5)
        assert scores[region]["hd95"] == pytest.approx(hd95, abs=5e-5)
    assert scores["WT"]["lesion_dice"] == pytest.approx(PRINTED["lesions_case"]["WT"][0], abs=5e-5)


def test_pooled_hd95_is_at_most_ours_and_far_below_it_with_a_small_missed_lesion():
    prediction, truth = lesions_case()
    official = brats_official.score_regions(prediction, truth, (1.0, 1.0, 1.0))
    ours = score_regions(prediction, truth, (1.0, 1.0, 1.0))
    for region in REGIONS:
        assert official[region]["dice"] == pytest.approx(ours[region]["dice"], abs=1e-12)
        assert official[region]["hd95"] <= ours[region]["hd95"]
    # the missed lesion C is a small share of the pooled surface points, but most of the truth's far tail
    assert ours["TC"]["hd95"] > 14.0 and official["TC"]["hd95"] == pytest.approx(1.414214, abs=5e-5)


def test_means_skip_nan_and_keep_inf():
    assert brats_official.mean([1.0, NAN, 0.5]) == 0.75
    assert math.isnan(brats_official.mean([NAN, NAN]))
    assert brats_official.mean([1.0, INF]) == INF


def test_a_real_brats_2021_case_against_its_shifted_copy_matches_the_package(data_dir):
    path = data_dir / "segmentation" / "brats2019-2021" / "BraTS2021_00000" / "BraTS2021_00000_seg.nii.gz"
    if not path.exists():
        pytest.skip(f"BraTS 2021 case not found: {path}")
    image = load_image(path, label=True)
    truth = from_convention(image.array, "brats2021")
    prediction = shifted(truth, (2, -1, 1))
    assert_as_printed(brats_official.score_regions(prediction, truth, image.spacing), PRINTED_REAL)
