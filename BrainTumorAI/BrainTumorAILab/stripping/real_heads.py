"""Training heads made from real whole-head scans with brain masks (``heads/AOMIC``, ``heads/EDSD`` of the data).

The synthetic heads (synthesis.py, real_brains.py) have a synthetic skull, scalp, face and neck; real research T1w
heads (1 mm, defaced, uint8, any axis order) have real ones, and a stripper trained on synthetic context alone put
its mask in the air in front of a defaced face. Each sample poses a real head at random (rotation, per-axis scale,
mirror, shift, smooth warp) and either keeps its own intensities through a random curve or, as SynthStrip does,
paints its label map with a random intensity per label: the six brain-tissue labels inside the brain and three
intensity classes of the non-brain head (terciles of its own T1w there) outside. The painted and real images then
go through the same acquisition as every synthetic head (bias, thick slices, noise, gamma).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import load_image, resample_to
from BrainTumorAILib.core.preprocess import head_mask
from BrainTumorAILib.tasks.stripping.grid import coarse_grid
from .painting import Randomisation, contrast_curve, paint, smooth_noise
from .real_brains import brain_frame_points

SOURCE_SPACING_MM = 2.0
BRAIN_LABELS = 6  # tissue labels 1..6 of the heads' *_tissue maps
OUTSIDE_CLASSES = 3  # intensity classes of the non-brain head
PAINTED_PROB = 0.5


@dataclasses.dataclass(frozen=True)
class RealHead:
    """One whole head on a RAS grid of ``spacing_mm`` voxels (SOURCE_SPACING_MM for the coarse stripper), cropped to
    the head."""

    name: str
    image: np.ndarray  # float32 (I, J, K), the head's 1st / 99th percentiles at 0 / 1
    labels: np.ndarray  # uint8 (I, J, K): 0 air, 1..6 brain tissue, 7..9 non-brain head by intensity
    mask: np.ndarray  # bool (I, J, K), the brain
    spacing_mm: float = SOURCE_SPACING_MM


def load_real_heads(data: str | os.PathLike, folders: Sequence[str], spacing_mm: float = SOURCE_SPACING_MM
                    ) -> list[RealHead]:
    """The heads of folders (relative to ``data``) holding ``*_T1w``, ``*_brainmask`` and ``*_tissue`` images, on
    RAS grids of ``spacing_mm``."""
    heads = []
    for folder in folders:
        path = Path(data) / folder
        files = {}
        for kind in ("T1w", "brainmask", "tissue"):
            found = sorted(path.glob(f"*_{kind}.nii*"))
            if not found:
                raise InputError(f"No *_{kind} image in {path}, listed as a real training head")
            files[kind] = found[0]
        t1 = load_image(files["T1w"])
        grid = coarse_grid(t1, spacing_mm)
        image = resample_to(t1, grid, fill=0.0).array
        brain = resample_to(load_image(files["brainmask"], label=True), grid, label=True).array > 0
        tissue = resample_to(load_image(files["tissue"], label=True), grid, label=True).array
        head = head_mask(image) | brain  # head_mask fills its holes
        box = tuple(slice(max(int(i.min()) - 2, 0), int(i.max()) + 3) for i in np.nonzero(head))
        image, brain, tissue, head = image[box], brain[box], tissue[box], head[box]
        low, high = np.percentile(image[head], (1, 99))
        image = np.clip((image - low) / max(float(high - low), 1e-6), 0.0, 1.5).astype(np.float32)
        labels = np.zeros(image.shape, dtype=np.uint8)
        outside = head & ~brain
        edges = np.quantile(image[outside], np.linspace(0, 1, OUTSIDE_CLASSES + 1)[1:-1])
        labels[outside] = BRAIN_LABELS + 1 + np.searchsorted(edges, image[outside]).astype(np.uint8)
        labels[brain] = np.clip(tissue[brain], 1, BRAIN_LABELS)
        heads.append(RealHead(folder, image, labels, brain, spacing_mm))
    return heads


def real_head_sample(rng: np.random.Generator, head: RealHead, shape: tuple[int, int, int], spacing_mm: float,
                     r: Randomisation, centre_mm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One posed head on the centred isotropic grid of ``shape`` voxels of ``spacing_mm``, before acquisition:
    (image float32 (I, J, K), brain mask bool (I, J, K)). The grid's centre falls near ``centre_mm`` (mm on the
    head's grid, (3,)), by default the brain's centre of mass."""
    points = brain_frame_points(rng, shape, spacing_mm, oblique=bool(rng.random() < r.oblique_prob))
    if centre_mm is None:
        centre_mm = np.array(ndimage.center_of_mass(head.mask)) * head.spacing_mm
    centre = np.asarray(centre_mm, dtype=np.float64)
    warp = 3.0 * rng.uniform(0.0, 1.0) * np.stack([smooth_noise(rng, shape, 20.0 / spacing_mm) for _ in range(3)])
    source = (points + warp + centre[:, None, None, None]) / head.spacing_mm
    mask = ndimage.map_coordinates(head.mask.astype(np.float32), source, order=1, cval=0.0) > 0.5
    if rng.random() < PAINTED_PROB:
        labels = ndimage.map_coordinates(head.labels, source, order=0, cval=0).astype(np.uint8)
        return paint(rng, labels, r, label_count=BRAIN_LABELS + OUTSIDE_CLASSES + 1), mask
    image = ndimage.map_coordinates(head.image, source, order=1, cval=0.0)
    air = rng.uniform(0.0, 0.1)
    return np.where(image > 0, contrast_curve(rng, r)(image), air).astype(np.float32), mask
