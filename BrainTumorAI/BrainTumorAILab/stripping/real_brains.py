"""Synthetic heads around real brains: a real skull-stripped brain (its shape and its interior) posed at random inside
random shells of CSF, bone and scalp above a random neck and skull base.

The phantom's brain is a deformed ellipsoid; real brains have a cerebellum, temporal poles and a vertex of their
own, which is where a stripper trained on phantoms alone stops short on real scans. SynthStrip trains on real
anatomy for this reason. Only the brain comes from real data (already stripped cases, never the evaluation study);
everything around it is synthetic, and the painting and acquisition stay those of synthesis.py.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from BrainTumorAILib.core.case import find_sequences
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import load_image, resample_to
from BrainTumorAILib.core.phantom import AIR, DIPLOE, GREY, NECK, SCALP, SKULL, phantom_affine
from BrainTumorAILib.tasks.stripping.grid import coarse_grid
from .painting import MUSCLE, OUTER_CSF, smooth_noise

SOURCE_SPACING_MM = 2.0


@dataclasses.dataclass(frozen=True)
class RealBrain:
    """One stripped brain on a RAS grid of ``SOURCE_SPACING_MM`` voxels, cropped to the brain."""

    name: str
    images: tuple[np.ndarray, ...]  # one per sequence, float32 (I, J, K), 0..~1 inside the brain, 0 outside
    mask: np.ndarray  # bool (I, J, K)


def load_real_brains(data: str | os.PathLike, folders: Sequence[str]) -> list[RealBrain]:
    """The brains of already stripped case folders (relative to ``data``): the mask is the folder's ``brainmask``
    file when it has one, else every voxel that is non-zero in any sequence."""
    brains = []
    for folder in folders:
        path = Path(data) / folder
        files = find_sequences(path)
        if not files:
            raise InputError(f"No MRI sequence found in {path}, listed as a real brain for the synthetic heads")
        images = [load_image(files[sequence]) for sequence in sorted(files)]
        grid = coarse_grid(images[0], SOURCE_SPACING_MM)
        masks = sorted(path.glob("brainmask.nii*"))
        if masks:
            mask = resample_to(load_image(masks[0], label=True), grid, label=True).array > 0
        else:
            union = np.any([image.array != 0 for image in images], axis=0)
            mask = resample_to(images[0].with_array(union.astype(np.uint8)), grid, label=True).array > 0
        box = tuple(slice(max(int(i.min()) - 2, 0), int(i.max()) + 3) for i in np.nonzero(mask))
        arrays = tuple(_unit_inside(resample_to(image, grid, fill=0.0).array[box], mask[box]) for image in images)
        brains.append(RealBrain(folder, arrays, mask[box]))
    return brains


def _unit_inside(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``array`` scaled so that its 1st and 99th percentiles inside ``mask`` are 0 and 1, clipped to [0, 1.2],
    zero outside the mask (z-scored and raw intensities alike)."""
    low, high = np.percentile(array[mask], (1, 99))
    scaled = np.clip((array - low) / max(float(high - low), 1e-6), 0.0, 1.2)
    return np.where(mask, scaled, 0.0).astype(np.float32)


def real_brain_head(rng: np.random.Generator, brain: RealBrain, shape: tuple[int, int, int], spacing_mm: float,
                    oblique: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A head on the centred isotropic grid of ``shape`` voxels of ``spacing_mm`` (the grid of make_phantom).

    The brain is rotated (10-25 degrees when ``oblique``, else up to 6), scaled per axis, mirrored left-right at
    random, shifted and smoothly deformed; around it lie CSF, bone with marrow and scalp, each of a random, smoothly
    varying thickness, and under it a neck and skull base of random patches. Returns the labels (uint8 (I, J, K):
    GREY for the whole brain, OUTER_CSF, SKULL, DIPLOE, SCALP, NECK, MUSCLE, AIR), one of the brain's sequences
    posed the same way (float32 (I, J, K), 0 outside the brain) and the brain mask (bool (I, J, K)).
    """
    points = brain_frame_points(rng, shape, spacing_mm, oblique)
    centre = np.array(ndimage.center_of_mass(brain.mask)) * SOURCE_SPACING_MM
    warp = 3.0 * rng.uniform(0.0, 1.0) * np.stack([smooth_noise(rng, shape, 20.0 / spacing_mm) for _ in range(3)])
    source = (points + warp + centre[:, None, None, None]) / SOURCE_SPACING_MM
    mask = ndimage.map_coordinates(brain.mask.astype(np.float32), source, order=1, cval=0.0) > 0.5
    sequence = brain.images[int(rng.integers(len(brain.images)))]
    interior = np.where(mask, ndimage.map_coordinates(sequence, source, order=1, cval=0.0), 0.0).astype(np.float32)

    outside = ndimage.distance_transform_edt(~mask, sampling=spacing_mm)
    vary = 1.0 + 0.25 * np.clip(smooth_noise(rng, shape, 25.0 / spacing_mm), -2.0, 2.0)
    csf, bone, scalp = (rng.uniform(low, high) * vary for low, high in ((1.0, 4.0), (4.0, 9.0), (3.0, 8.0)))
    marrow = rng.uniform(0.2, 0.6)
    labels = np.full(shape, AIR, dtype=np.uint8)
    labels[outside <= csf + bone + scalp] = SCALP
    labels[outside <= csf + bone] = SKULL
    middle = np.abs(outside - csf - bone / 2) <= marrow * bone / 2
    labels[middle & (labels == SKULL)] = DIPLOE
    labels[outside <= csf] = OUTER_CSF
    labels[mask] = GREY

    inside = points[:, mask]  # brain-frame mm of the brain's voxels (3, N)
    low, high = inside.min(axis=1), inside.max(axis=1)
    middle_xy, half_xy = (low[:2] + high[:2]) / 2, (high[:2] - low[:2]) / 2
    below = points[2] < low[2] + rng.uniform(0.2, 0.4) * (high[2] - low[2])
    footprint = (((points[0] - middle_xy[0]) / (rng.uniform(0.8, 1.0) * half_xy[0])) ** 2
                 + ((points[1] - middle_xy[1] - rng.uniform(0.0, 0.2) * half_xy[1]) / half_xy[1]) ** 2) < 1
    lower = below & footprint & (labels == AIR)
    patches = smooth_noise(rng, shape, 8.0 / spacing_mm)[lower]
    labels[lower] = np.select([patches < -0.6, patches < 0.0, patches < 0.7], [AIR, SKULL, NECK], MUSCLE)
    return labels, interior, mask


def brain_frame_points(rng: np.random.Generator, shape: tuple[int, int, int], spacing_mm: float, oblique: bool
                        ) -> np.ndarray:
    """Where each voxel centre of the head grid falls in the brain's frame (mm from the brain's centre of mass,
    RAS axes of the source), float32 (3, I, J, K): a random rotation, per-axis scale, left-right mirror and shift."""
    axis = rng.normal(size=3)
    angle = rng.uniform(10, 25) if oblique else rng.uniform(0, 6)
    rotation = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.deg2rad(angle)).as_matrix()
    mirror = np.diag([-1.0 if rng.random() < 0.5 else 1.0, 1.0, 1.0])
    to_brain = mirror @ np.diag(1.0 / rng.uniform(0.88, 1.12, 3)) @ rotation.T
    affine = phantom_affine(shape, (spacing_mm,) * 3)
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    world = affine[:3, :3] @ grid + (affine[:3, 3] - rng.normal(0.0, 6.0, 3))[:, None]
    return (to_brain @ world).astype(np.float32).reshape(3, *shape)
