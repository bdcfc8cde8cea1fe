"""The learned mask's edge redrawn by the classical mask: within ``band_mm`` of the learned edge, on either side,
the classical mask decides; elsewhere the learned one stands.

The learned stripper's 3 mm grid places the brain's edge to about one voxel, while the classical mask follows the
image's own tissue contrast on a 2 mm grid; far from the edge the learned mask's anatomy (skull base, orbits, a T1
head whose threshold misses half the brain) is kept. A card asks for it with ``inference.classical_edge_band_mm``;
it is applied only where the classical mask is plausible and agrees with the learned one (the guard's checks), and
only to images whose voxels are no larger than the classical grid's on any axis: on thick slices the classical edge
is interpolated across them and no finer than the learned one (on the 5.5 mm TCGA T1c it lowered the Dice against
HD-BET from 0.963 to 0.950). It was measured on T1-weighted heads only, so a series named T2 or FLAIR keeps the
learned edge: there the CSF around the brain is bright, and the classical method's dark | brain | bright classes
would put it outside.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
from scipy import ndimage

from ...core.preprocess import bounding_box
from .classical import SPACING_MM as CLASSICAL_SPACING_MM
from .postprocess import solid_component

T1_WEIGHTED = ("t1", "t1c")


def edge_contrast(modality: str | None) -> bool:
    """True for a T1-weighted series, or one of unnamed contrast (a research head is most often T1w)."""
    return modality is None or modality in T1_WEIGHTED


def fine_enough(spacing: Sequence[float]) -> bool:
    """True when no voxel axis of ``spacing`` (mm) is coarser than the classical method's working grid."""
    return max(float(step) for step in spacing) <= CLASSICAL_SPACING_MM + 1e-3


def edge_band(mask: np.ndarray, spacing: Sequence[float], band_mm: float) -> np.ndarray:
    """The voxels, inside ``mask`` (I, J, K) bool or outside it, lying within ``band_mm`` of its edge, measured in mm
    on a grid of ``spacing`` (mm per axis). bool (I, J, K); empty for an empty mask."""
    band = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return band
    margin = tuple(int(np.ceil(band_mm / float(step))) + 1 for step in spacing)
    box = bounding_box(mask, margin)
    inside = box.apply(mask)
    structure = _ball(spacing, band_mm)
    # the dilation less the erosion by the band's ball is the set the two distance maps would give, in half the time;
    # border_value 1: beyond the volume's face is not outside the mask, as for a distance map
    with ThreadPoolExecutor(max_workers=2) as pool:  # scipy releases the GIL
        grown = pool.submit(ndimage.binary_dilation, inside, structure)
        shrunk = pool.submit(ndimage.binary_erosion, inside, structure, border_value=1)
        band[box.slices] = grown.result() & ~shrunk.result()
    return band


def _ball(spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """bool (a, b, c): the voxel offsets within ``radius_mm`` of the centre on a grid of ``spacing`` (mm per axis),
    compared as a distance map compares (no tolerance, unlike ``classical.ball``: on the AOMIC head that one's
    tolerance changes the band)."""
    reach = [int(np.floor(radius_mm / float(step))) for step in spacing]
    grid = np.indices([2 * r + 1 for r in reach], dtype=float)
    return np.sqrt(sum(((axis - r) * float(step)) ** 2 for axis, r, step in zip(grid, reach, spacing))) <= radius_mm


def classical_edge(learned: np.ndarray, classical: np.ndarray, spacing: Sequence[float],
                   band_mm: float) -> np.ndarray:
    """``learned`` (I, J, K) 0/1 with the classical mask's voxels inside its edge band of ``band_mm``, reduced to one
    solid brain. uint8 0/1 (I, J, K), the grid of both inputs."""
    inside = learned > 0
    band = edge_band(inside, spacing, band_mm)
    return solid_component(np.where(band, classical > 0, inside)).astype(np.uint8)
