"""The segmentation network grid: a crop of what MONAI's Orientation + Spacing give, and its exact way back."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from BrainTumorAILib.image import Image
from BrainTumorAILib.preprocess import zscore
from BrainTumorAILib.segmentation.inputs import network_input

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


def _inner(grid, axis: int) -> tuple[int, int]:
    """The box's voxels along ``axis`` that lie between the first and the last network voxel."""
    first = grid.crop.start[axis] + int(np.ceil(grid.start[axis]))
    last = grid.crop.start[axis] + int(np.floor(grid.start[axis] + (grid.shape[axis] - 1) * grid.step[axis]))
    return first, last + 1
