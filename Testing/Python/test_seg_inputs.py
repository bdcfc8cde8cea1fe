"""The segmentation network grid: a crop of what MONAI's Orientation + Spacing give, and its exact way back."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from BrainTumorAILib.core.image import Image
from BrainTumorAILib.core.preprocess import zscore
from BrainTumorAILib.tasks.segmentation.inputs import classes_from_probabilities, network_input

PREPROCESSING = {"normalisation": "zscore", "spacing_mm": [1.5, 1.5, 1.5], "crop_margin_mm": 4.0}


def head(seed: int, affine: np.ndarray, shape: tuple[int, int, int] = (44, 40, 30)) -> Image:
    """A smooth random 'head' inside a zero background: an ellipsoid of low-pass noise."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    inside = sum(g ** 2 for g in grid) < 0.6
    noise = torch.nn.functional.avg_pool3d(torch.from_numpy(rng.normal(size=(1, 1, *shape))), 5, 1, 2)[0, 0].numpy()
    return Image(np.where(inside, 100 + 40 * noise + 10 * grid[0], 0).astype(np.float32), affine)


@pytest.mark.parametrize("axcodes", ["LPS", "RAS", "PLI"])
def test_network_array_is_a_crop_of_monai_orientation_and_spacing(axcodes):
    from monai import transforms as mt
    from monai.data import MetaTensor

    spacing = np.array([0.9, 1.2, 2.0])
    ornt = nib.orientations.axcodes2ornt(axcodes)
    affine = np.linalg.inv(nib.orientations.inv_ornt_aff(ornt, (44, 40, 30))) @ np.diag([*spacing, 1.0])
    affine[:3, 3] = [12.0, -30.0, 7.5]
    images = {"flair": head(1, affine), "t1c": head(2, affine)}
    array, grid = network_input(images, PREPROCESSING)

    stack = MetaTensor(torch.from_numpy(np.stack([zscore(images[k].array) for k in ("flair", "t1c")])),
                       affine=torch.from_numpy(affine))
    ras = mt.Orientation(axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S")))(stack)
    expected = mt.Spacing(pixdim=1.5, mode="bilinear")(ras).numpy()
    # the network grid's first voxel is voxel `corner` of the whole-volume Spacing output
    corner = [int(round((c + a) / d)) for c, a, d in zip(grid.crop.start, grid.start, grid.step)]
    window = expected[(slice(None), *[slice(c, c + n) for c, n in zip(corner, grid.shape)])]
    assert grid.spacing == (1.5, 1.5, 1.5)
    assert window.shape == array.shape
    np.testing.assert_allclose(array, window, atol=1e-4)


def test_way_back_reproduces_a_smooth_field_inside_the_brain_box():
    affine = np.diag([1.0, 1.0, 2.5, 1.0])
    image = head(3, affine)
    array, grid = network_input({"flair": image}, PREPROCESSING)
    ras_field = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in image.shape], indexing="ij"))
    on_network = grid.start[0] + np.arange(grid.shape[0]) * grid.step[0] + grid.crop.start[0]
    field = np.broadcast_to(on_network[:, None, None], grid.shape)[None].astype(np.float32)
    back = grid.to_reference(field, fill=-1.0)[0]
    inside = (slice(*_inner(grid, 0)), slice(*grid.crop.slices[1].indices(image.shape[1])[:2]),
              slice(*grid.crop.slices[2].indices(image.shape[2])[:2]))
    np.testing.assert_allclose(back[inside], ras_field[0][inside], atol=1e-3)
    assert (back[: grid.crop.start[0]] == -1.0).all()
    labels = np.zeros(image.shape, dtype=np.uint8)
    labels[20:24, 18:22, 12:16] = 3
    assert grid.labels_to_network(labels).max() == 3


SOFTMAX = {"channels": ["background", "NCR", "ED", "ET"], "activation": "softmax"}
SIGMOID = {"channels": ["TC", "WT", "ET"], "activation": "sigmoid"}


@pytest.mark.parametrize("outputs", [SOFTMAX, SIGMOID], ids=["softmax", "sigmoid"])
def test_classes_on_the_reference_grid_are_those_of_the_whole_resampled_output(outputs):
    """classes_to_reference resamples only around the predicted tumour; it must give what resampling all of the
    probabilities and then classifying gives, wherever the tumour lies (also against the grid's ends)."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        affine = np.diag([*rng.choice([0.8, 1.0, 1.3], 3), 1.0])
        preprocessing = {**PREPROCESSING, "crop_margin_mm": float(rng.choice([0.0, 4.0])),
                         "multiple": int(rng.choice([1, 4]))}
        _, grid = network_input({"flair": head(trial, affine, tuple(int(n) for n in rng.integers(20, 36, 3)))},
                                preprocessing)
        logits = rng.normal(size=(4, *grid.shape)).astype(np.float32)
        logits[0] += 8.0  # background everywhere but in the blob
        centre = [int(rng.choice([0, n - 1, rng.integers(n)])) for n in grid.shape]
        radius = int(rng.integers(1, 4))
        logits[(slice(1, None), *[slice(max(c - radius, 0), c + radius) for c in centre])] += 16.0
        if trial % 10 == 0:
            logits[0] += 50.0  # no tumour at all
        if outputs is SOFTMAX:
            probabilities = torch.softmax(torch.from_numpy(logits), 0).numpy()
        else:
            probabilities = torch.sigmoid(torch.from_numpy(logits[1:] - logits[:1])).numpy()
        expected = classes_from_probabilities(grid.to_reference(probabilities), outputs)
        np.testing.assert_array_equal(grid.classes_to_reference(probabilities, outputs), expected)


def test_softmax_classes_are_the_argmax_with_ties_to_the_first_channel():
    probabilities = np.random.default_rng(0).random((4, 9, 8, 7)).astype(np.float32)
    probabilities[:, :3] = 0.25
    probabilities[2:, 3:5] = 0.9
    np.testing.assert_array_equal(classes_from_probabilities(probabilities, SOFTMAX), np.argmax(probabilities, 0))


def _inner(grid, axis: int) -> tuple[int, int]:
    """The box's voxels along ``axis`` that lie between the first and the last network voxel."""
    first = grid.crop.start[axis] + int(np.ceil(grid.start[axis]))
    last = grid.crop.start[axis] + int(np.floor(grid.start[axis] + (grid.shape[axis] - 1) * grid.step[axis]))
    return first, last + 1
