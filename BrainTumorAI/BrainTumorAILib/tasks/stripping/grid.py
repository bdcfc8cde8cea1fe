"""The coarse working grid of the strippers: RAS-aligned, isotropic, covering the whole input image.

Working in RAS at one voxel size makes both strippers independent of the input's orientation (LPS, RAS, LAS,
oblique) and voxel size; the result is brought back to the input grid by ``resample_to`` through the affines.
"""

from __future__ import annotations

import numpy as np

from ...core.image import Image, resample_to


def coarse_grid(image: Image, spacing_mm: float, multiple: int = 1) -> Image:
    """An empty RAS grid of ``spacing_mm`` voxels holding ``image``'s extent, each size a multiple of ``multiple``.

    Returns an Image with a zero float32 array of shape (I', J', K') and a diagonal affine (i -> R, j -> A, k -> S).
    """
    corners = image.corners_ras()
    return ras_grid(corners.min(axis=0), corners.max(axis=0), spacing_mm, multiple)


def ras_grid(low: np.ndarray, high: np.ndarray, spacing_mm: float, multiple: int = 1) -> Image:
    """An empty RAS grid of ``spacing_mm`` voxels centred on the box ``low``..``high`` (mm, (3,)) and holding it,
    each size a multiple of ``multiple``: a zero float32 array (I', J', K') and a diagonal affine."""
    counts = np.ceil((high - low) / spacing_mm).astype(int) + 1
    counts = counts + (-counts) % multiple
    centre = (low + high) / 2
    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    affine[:3, 3] = centre - spacing_mm * (counts - 1) / 2
    return Image(np.zeros(tuple(int(n) for n in counts), dtype=np.float32), affine)


def to_coarse(image: Image, spacing_mm: float, multiple: int = 1) -> Image:
    """``image`` resampled (linear) onto its coarse grid; outside the input reads as its minimum."""
    return resample_to(image, coarse_grid(image, spacing_mm, multiple))


def normalise_intensity(volume: np.ndarray) -> np.ndarray:
    """Robust 0..1 scaling of a head or brain volume: the 0.5th and 99.5th percentiles map to 0 and 1, clipped to
    [0, 1.5]. Shared by training and inference so the network sees the same range. float32, same shape."""
    low, high = np.percentile(volume, (0.5, 99.5))
    scale = float(high - low) if high > low else 1.0
    return np.clip((volume - low) / scale, 0.0, 1.5).astype(np.float32)
