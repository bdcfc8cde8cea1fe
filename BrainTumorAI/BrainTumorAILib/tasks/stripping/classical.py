"""Classical skull stripping (seed 004's baseline done carefully): bias-flattened Otsu threshold (three
classes: dark bone, CSF and air | brain | bright fat or fluid; the brain lies above the first), erosion to cut
the brain from scalp and skull, largest component, dilation back, closing and hole filling.

Runs on a 2 mm RAS grid (so voxel size and orientation do not matter) and returns the mask on that grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_multiotsu

from ...core.image import Image
from ...core.preprocess import bounding_box, fill_holes, head_mask
from .grid import to_coarse
from .postprocess import largest_component, solid_component

SPACING_MM = 2.0
CLOSING_MM = 2 * SPACING_MM
HEAD_BOX_MARGIN_VOXELS = int(CLOSING_MM // SPACING_MM) + 1
BIAS_STEP = 3


def ball(radius_mm: float, spacing_mm: float = SPACING_MM) -> np.ndarray:
    """A spherical structuring element of ``radius_mm`` on an isotropic grid, bool (n, n, n)."""
    steps = int(np.floor(radius_mm / spacing_mm))
    offsets = np.arange(-steps, steps + 1) * spacing_mm
    x, y, z = np.meshgrid(offsets, offsets, offsets, indexing="ij")
    return x * x + y * y + z * z <= radius_mm * radius_mm + 1e-6


def dilate_by_ball(mask: np.ndarray, radius_mm: float, spacing_mm: float = SPACING_MM) -> np.ndarray:
    """``binary_dilation(mask, ball(radius_mm))`` through a distance map: the voxels within ``radius_mm`` of a
    ``mask`` voxel, the same set several times faster for a large ball. bool (I, J, K)."""
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    return ndimage.distance_transform_edt(~mask, sampling=spacing_mm) <= radius_mm + 1e-6


def flatten_bias(volume: np.ndarray, inside: np.ndarray, sigma_mm: float = 30.0) -> np.ndarray:
    """``volume`` divided by its smooth local mean inside ``inside`` (normalised convolution), so a slow intensity
    bias across the head does not move the threshold. float32, 0 outside ``inside``.

    The smoothing runs on every ``BIAS_STEP``-th voxel and is interpolated back (linear): a mean over a 30 mm sigma
    barely changes between 2 and 6 mm samples (the leave-one-head-out masks agree at Dice 0.999 with the full
    grid's), at half the cost."""
    def smooth(array: np.ndarray) -> np.ndarray:
        sigma = sigma_mm / (SPACING_MM * BIAS_STEP)
        sampled = ndimage.gaussian_filter(array[::BIAS_STEP, ::BIAS_STEP, ::BIAS_STEP], sigma)
        return ndimage.affine_transform(sampled, np.full(3, 1.0 / BIAS_STEP), output_shape=array.shape, order=1,
                                        mode="nearest")

    weight = smooth(inside.astype(np.float32))
    local = smooth(np.where(inside, volume, 0).astype(np.float32))
    flat = np.zeros_like(volume, dtype=np.float32)
    valid = inside & (local > 1e-6)
    flat[valid] = volume[valid] * weight[valid] / local[valid]
    return flat


def classical_brain(image: Image, erosion_mm: float = 10.0) -> Image:
    """The brain mask (uint8 0/1) of ``image`` on its 2 mm RAS working grid."""
    coarse = to_coarse(image, SPACING_MM)
    volume = ndimage.gaussian_filter(coarse.array, 0.7)
    head = head_mask(volume)
    if not head.any():
        return coarse.with_array(np.zeros(coarse.shape, dtype=np.uint8))
    flat = flatten_bias(volume, head)
    dark_limit = threshold_multiotsu(flat[head], classes=3)[0]  # dark | brain | bright (fat or fluid)
    # the morphology runs in the head's box: its margin of air holds the closing's dilation and keeps every hole
    # that opens to the outside open, so the mask is the one the whole grid gives (tested), a quarter faster on a
    # 1 mm head
    box = bounding_box(head, HEAD_BOX_MARGIN_VOXELS)
    head = box.apply(head)
    tissue = head & (box.apply(flat) > dark_limit)
    core = largest_component(ndimage.binary_erosion(tissue, ball(erosion_mm)))
    brain = dilate_by_ball(core, erosion_mm) & head
    brain = ndimage.binary_closing(brain, ball(CLOSING_MM), border_value=0)
    return coarse.with_array(box.invert(fill_planes(solid_component(brain)).astype(np.uint8)))


def fill_planes(mask: np.ndarray) -> np.ndarray:
    """Holes filled in every plane along each axis: dark ventricles and sulci that open to the outside in 3D
    through a thin channel are closed in 2D. bool (I, J, K)."""
    for axis in range(3):
        mask = np.stack([fill_holes(plane) for plane in np.moveaxis(mask, axis, 0)], axis=axis)
    return mask
