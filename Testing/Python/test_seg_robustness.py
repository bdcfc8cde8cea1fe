"""The robustness check of a segmenter: each degradation does what it says on the grid, in any axis order, leaves
the inputs and the reference alone, and the command scores a tiny fold run's held-out cases as `segment` does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from seg_training_data import tiny_config, write_phantoms

from BrainTumorAILab.training.config import load_config
from BrainTumorAILab.training.datasets import discover, select
from BrainTumorAILab.training.robustness import (CONDITIONS, bias_field, degraded, main, misaligned, thick_grid,
                                                 thick_slices)
from BrainTumorAILab.training.segmentation import train_segmentation
from BrainTumorAILab.training.trained import card_of_run
from BrainTumorAILab.training.validation import region_dice
from BrainTumorAILib.core.case import Case, load_case
from BrainTumorAILib.core.image import Image, reorient
from BrainTumorAILib.core.labels import from_convention
from BrainTumorAILib.tasks.segmentation.segment import segment_case

# LPS, and a permuted grid whose array axes run S, R, A
AFFINES = {"lps": np.diag([-1.0, -1.0, 1.0, 1.0]),
           "permuted": np.array([[0.0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])}


def world_image(function, affine: np.ndarray, shape=(40, 36, 32)) -> Image:
    """An image whose voxels hold ``function(R, A, S)`` of their RAS centres (mm)."""
    indices = np.stack(np.meshgrid(*[np.arange(size) for size in shape], indexing="ij"), -1)
    ras = indices @ affine[:3, :3].T + affine[:3, 3]
    return Image(function(ras[..., 0], ras[..., 1], ras[..., 2]).astype(np.float32), affine)


@pytest.mark.parametrize("orientation", AFFINES)
def test_thick_slices_average_slabs_along_superior_only(orientation):
    affine = AFFINES[orientation]
    ramp = world_image(lambda r, a, s: 3 * s + 0 * r, affine)
    # a ramp along superior survives away from the first and last slabs
    inside = reorient(thick_slices(ramp), "RAS").array[:, :, 5:-5]
    assert np.allclose(inside, reorient(ramp, "RAS").array[:, :, 5:-5], atol=1e-3)
    # a pattern across left-right is untouched; one along superior with a 2 mm period is flattened
    lateral = world_image(lambda r, a, s: np.sin(r) + 0 * s, affine)
    assert np.allclose(thick_slices(lateral).array, lateral.array, atol=1e-5)
    fine = world_image(lambda r, a, s: np.cos(np.pi * s) + 0 * r, affine)
    assert np.abs(thick_slices(fine).array).max() < 0.25 < np.abs(fine.array).max()


@pytest.mark.parametrize("orientation", AFFINES)
def test_a_thick_grid_holds_the_slab_means_at_the_slabs_centres(orientation):
    affine = AFFINES[orientation]
    ramp = world_image(lambda r, a, s: 3 * s + np.sin(r), affine)
    thick = thick_grid(ramp, 4.0)
    superior = int(np.argmax(np.abs(affine[2, :3])))
    assert thick.spacing[superior] == 4.0 and thick.shape[superior] == ramp.shape[superior] // 4
    assert [thick.spacing[axis] for axis in range(3) if axis != superior] == [1.0, 1.0]
    # a linear ramp's slab mean is its value at the slab's centre, which the thick grid's affine names
    expected = world_image(lambda r, a, s: 3 * s + np.sin(r), thick.affine, thick.shape)
    assert np.allclose(thick.array, expected.array, atol=1e-4)


@pytest.mark.parametrize("orientation", AFFINES)
def test_misaligned_moves_the_image_in_world_space(orientation):
    affine = AFFINES[orientation]
    middle = affine[:3, :3] @ (np.array([40, 36, 32]) - 1) / 2 + affine[:3, 3]
    blob = world_image(lambda r, a, s: np.exp(-((r - middle[0]) ** 2 + (a - middle[1] - 4) ** 2
                                                 + (s - middle[2]) ** 2) / 20), affine)

    def centre(image: Image) -> np.ndarray:
        indices = np.stack(np.nonzero(image.array > 0.05), -1)
        weights = image.array[image.array > 0.05]
        return (indices * weights[:, None]).sum(0) / weights.sum() @ affine[:3, :3].T + affine[:3, 3]

    moved = misaligned(blob, degrees=0.0, shift_mm=2.0)
    assert centre(moved) - centre(blob) == pytest.approx([0, 0, 2], abs=0.05)
    turned = misaligned(blob)
    assert np.linalg.norm(centre(turned) - centre(blob)) > 2.0
    assert turned.array.shape == blob.array.shape and np.array_equal(turned.affine, blob.affine)


def test_bias_field_keeps_the_background_and_varies_across_the_head():
    affine = AFFINES["permuted"]
    middle = affine[:3, :3] @ (np.array([40, 36, 32]) - 1) / 2 + affine[:3, 3]
    head = world_image(lambda r, a, s: np.where((r - middle[0]) ** 2 + (a - middle[1]) ** 2 < 150, 100.0, 0.0)
                       + 0 * s, affine)
    biased = bias_field(head)
    assert np.array_equal(biased.array[head.array == 0], head.array[head.array == 0])
    ratio = reorient(biased, "RAS").array / np.maximum(reorient(head, "RAS").array, 1)
    inside = reorient(head, "RAS").array > 0
    left, right = ratio[:12][inside[:12]].mean(), ratio[-12:][inside[-12:]].mean()
    assert right - left > 0.1


def test_degraded_copies_leave_the_inputs_and_the_reference_alone():
    affine = np.eye(4)
    images = {name: world_image(lambda r, a, s, k=k: np.sin(r / 3 + k) + np.cos(s / 4), affine)
              for k, name in enumerate(("t1c", "flair", "t2"))}
    before = {name: image.array.copy() for name, image in images.items()}
    case = Case(dict(images), "c")
    assert degraded(case, "as_is", "t1c") is case
    shifted = degraded(case, "misaligned", "t1c")
    assert shifted.images["t1c"] is images["t1c"]
    assert not np.allclose(shifted.images["flair"].array, before["flair"])
    for condition in ("thick", "bias"):
        changed = degraded(case, condition, "t1c")
        assert all(not np.allclose(changed.images[name].array, before[name]) for name in images)
    assert all(np.array_equal(image.array, before[name]) for name, image in images.items())


def test_the_command_scores_each_condition_and_as_is_is_the_segment_path(tmp_path):
    names = write_phantoms(tmp_path / "cases", [31, 32, 33])
    run = tmp_path / "run"
    train_segmentation(load_config(tiny_config(tmp_path)), tmp_path / "cases", run, names[-1:], progress=False)
    out = tmp_path / "robustness.json"
    assert main(["--out", str(out), "--fold", str(run), str(tmp_path / "cases" / names[-1])]) == 0

    result = json.loads(out.read_text())["runs"][str(run)]
    assert set(result) == set(CONDITIONS)
    case = select(discover(tmp_path / "cases"), names[-1:])[0]
    labels = segment_case(load_case(tmp_path / "cases" / names[-1]), card=card_of_run(run), device="cpu").labels
    expected = region_dice(from_convention(labels.array), case.load(["flair"])[1])
    assert result["as_is"]["per_case"][names[-1]] == pytest.approx(expected, abs=1e-4)
    assert result["as_is"]["mean"]["mean_dice"] == pytest.approx(np.mean(list(expected.values())), abs=1e-3)
