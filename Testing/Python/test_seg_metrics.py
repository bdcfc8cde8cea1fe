"""BraTS metrics, volumes, label conventions, output decoding and postprocessing of predicted class maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics import compute_hausdorff_distance

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.labels import from_convention, to_convention
from BrainTumorAILib.tasks.segmentation.inputs import classes_from_probabilities
from BrainTumorAILib.tasks.segmentation.metrics import HD95_EMPTY_PENALTY_MM, dice, hd95, score_regions, volumes_ml
from BrainTumorAILib.tasks.segmentation.postprocess import PostprocessOptions, postprocess


def box(shape=(30, 30, 30), start=(5, 5, 5), size=(10, 10, 10)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(a, a + n) for a, n in zip(start, size))] = True
    return mask


def test_both_empty_scores_dice_one_and_hd95_zero():
    empty = np.zeros((8, 8, 8), dtype=bool)
    assert dice(empty, empty) == 1.0
    assert hd95(empty, empty) == 0.0


@pytest.mark.parametrize("predicted_empty", [True, False])
def test_one_empty_scores_dice_zero_and_the_challenge_penalty(predicted_empty):
    empty, full = np.zeros((8, 8, 8), dtype=bool), box((8, 8, 8), (2, 2, 2), (3, 3, 3))
    prediction, truth = (empty, full) if predicted_empty else (full, empty)
    assert dice(prediction, truth) == 0.0
    assert hd95(prediction, truth) == HD95_EMPTY_PENALTY_MM == 373.13


def test_known_shapes_give_known_dice_and_hd95():
    truth = box(start=(5, 5, 5), size=(10, 10, 10))
    shifted = box(start=(8, 5, 5), size=(10, 10, 10))  # 7 of 10 slices overlap
    assert dice(truth, shifted) == pytest.approx(0.7)
    assert dice(truth, truth) == 1.0
    assert hd95(truth, truth) == 0.0
    # every surface voxel of one cube is at most 3 voxels from the other's surface; with 2 mm voxels along i: 6 mm
    assert hd95(truth, shifted, spacing=(2.0, 1.0, 1.0)) == pytest.approx(6.0)


def test_hd95_matches_monai_on_irregular_shapes_with_anisotropic_spacing(rng):
    from scipy import ndimage

    first = ndimage.binary_opening(rng.random((40, 36, 30)) > 0.55, iterations=1)
    second = ndimage.binary_opening(rng.random((40, 36, 30)) > 0.6, iterations=1)
    spacing = (1.0, 1.5, 3.0)
    expected = compute_hausdorff_distance(torch.from_numpy(first)[None, None], torch.from_numpy(second)[None, None],
                                          percentile=95, spacing=spacing)
    assert hd95(first, second, spacing) == pytest.approx(float(expected), abs=1e-4)


def test_score_regions_uses_the_nested_brats_regions():
    truth = np.zeros((20, 20, 20), dtype=np.uint8)
    truth[5:15, 5:15, 5:15] = 2
    truth[8:12, 8:12, 8:12] = 1
    prediction = truth.copy()
    prediction[prediction == 1] = 3  # core right, but called enhancing
    scores = score_regions(prediction, truth, (1.0, 1.0, 1.0))
    assert scores["WT"]["dice"] == 1.0 and scores["TC"]["dice"] == 1.0
    assert scores["ET"] == {"dice": 0.0, "hd95": HD95_EMPTY_PENALTY_MM}


def test_volumes_are_in_millilitres_with_the_voxel_size():
    classes = np.zeros((10, 10, 10), dtype=np.uint8)
    classes[:5, :4] = 2  # 200 voxels
    classes[0, 0, :3] = 1
    classes[1, 0, :2] = 3
    volumes = volumes_ml(classes, (2.0, 1.0, 1.0))  # 2 uL per voxel
    assert volumes == {"necrosis": 0.006, "edema": 0.39, "enhancing": 0.004, "WT": 0.4, "TC": 0.01, "ET": 0.004}


@pytest.mark.parametrize("convention, file_labels", [("brats2021", [0, 1, 2, 4]), ("brats2023", [0, 1, 2, 3])])
def test_label_conventions_round_trip(convention, file_labels):
    classes = np.arange(4, dtype=np.uint8).repeat(3).reshape(3, 2, 2)
    written = to_convention(classes, convention)
    assert sorted(np.unique(written).tolist()) == file_labels
    np.testing.assert_array_equal(from_convention(written, convention), classes)


def test_brats2013_non_enhancing_core_reads_as_necrosis_and_unknown_labels_fail():
    np.testing.assert_array_equal(from_convention(np.array([0, 1, 2, 3, 4]), "brats2013"), [0, 1, 2, 1, 3])
    with pytest.raises(InputError, match="brats2021"):
        from_convention(np.array([0, 3]), "brats2021")


def test_sigmoid_regions_become_classes_as_the_monai_bundle_paints_them():
    tc, wt, et = (np.zeros((1, 1, 5), dtype=np.float32) for _ in range(3))
    wt[..., 1:] = 0.9  # voxel 0 background, 1 oedema only
    tc[..., 2:] = 0.8  # 2 core without enhancement
    et[..., 3:] = 0.7  # 3 and 4 enhancing
    tc[..., 4] = 0.1  # ET wins even where TC is below threshold
    classes = classes_from_probabilities(np.stack([tc, wt, et]), {"activation": "sigmoid",
                                                                   "channels": ["TC", "WT", "ET"]})
    np.testing.assert_array_equal(classes.ravel(), [0, 2, 1, 3, 3])


def test_postprocessing_drops_specks_fills_holes_and_optionally_relabels_small_et():
    classes = np.zeros((30, 30, 30), dtype=np.uint8)
    classes[5:20, 5:20, 5:20] = 2
    classes[9:16, 9:16, 9:16] = 1
    classes[12, 12, 12] = 0  # a hole in the core
    classes[7, 7, 7] = 0  # a hole in the oedema
    classes[25, 25, 25] = 2  # a one-voxel speck
    classes[6, 6, 6] = 3  # one enhancing voxel
    original = classes.copy()
    cleaned = postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(min_component_ml=0.01, fill_holes=True))
    np.testing.assert_array_equal(classes, original)  # the input is not modified
    assert cleaned[25, 25, 25] == 0 and cleaned[12, 12, 12] == 1 and cleaned[7, 7, 7] == 2
    assert cleaned[6, 6, 6] == 3
    relabelled = postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(small_et_ml=0.5))
    assert relabelled[6, 6, 6] == 1 and not (relabelled == 3).any()
    specks_only = np.zeros((30, 30, 30), dtype=np.uint8)
    specks_only[3, 3, 3] = specks_only[20, 20, 20] = 2
    assert not postprocess(specks_only, (1.0, 1.0, 1.0), PostprocessOptions(min_component_ml=0.01)).any()
    assert not postprocess(np.zeros_like(specks_only), (1.0, 1.0, 1.0)).any()
    at_the_face = np.zeros((20, 20, 20), dtype=np.uint8)
    at_the_face[0:6, 5:15, 5:15] = 2
    at_the_face[0, 9, 9] = 0  # open to the volume's face: not a hole
    at_the_face[3, 9, 9] = 0  # enclosed: a hole
    filled = postprocess(at_the_face, (1.0, 1.0, 1.0))
    assert filled[0, 9, 9] == 0 and filled[3, 9, 9] == 2


def test_components_under_a_fraction_of_the_largest_are_dropped_and_larger_satellites_kept():
    classes = np.zeros((40, 40, 40), dtype=np.uint8)
    classes[2:22, 2:22, 2:22] = 2  # the tumour: 8000 voxels
    classes[30:36, 30:36, 30:36] = 3  # a satellite of 216 voxels (2.7%)
    classes[30:33, 2:5, 2:5] = 1  # a stray blob of 27 voxels (0.3%)
    options = PostprocessOptions(min_component_ml=0.01, min_component_fraction=0.01)
    cleaned = postprocess(classes, (1.0, 1.0, 1.0), options)
    assert cleaned[31, 3, 3] == 0 and cleaned[32, 32, 32] == 3 and cleaned[10, 10, 10] == 2
    assert not postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(min_component_fraction=0.05))[32, 32, 32]
    assert PostprocessOptions.from_card({"min_component_fraction": 0.1}).min_component_fraction == 0.1


def test_the_fluid_veto_clears_tumour_on_fluid_after_hole_filling_and_only_when_asked():
    classes = np.zeros((30, 30, 30), dtype=np.uint8)
    classes[5:20, 5:20, 5:20] = 2
    classes[9:16, 9:16, 9:16] = 1
    fluid = np.zeros(classes.shape, dtype=bool)
    fluid[11:14, 11:14, 11:14] = True  # inside the core: hole filling would put necrosis back
    fluid[25:28, 25:28, 25:28] = True  # no tumour there
    vetoed = postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(fluid_veto=True), fluid)
    assert not vetoed[fluid].any()
    np.testing.assert_array_equal(vetoed[~fluid], classes[~fluid])
    np.testing.assert_array_equal(postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(), fluid), classes)
    np.testing.assert_array_equal(postprocess(classes, (1.0, 1.0, 1.0), PostprocessOptions(fluid_veto=True)), classes)
    assert PostprocessOptions.from_card({"fluid_veto": True}).fluid_veto
