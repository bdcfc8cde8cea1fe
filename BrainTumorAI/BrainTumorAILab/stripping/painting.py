"""What the synthetic heads (synthesis.py) and the posed real ones (real_brains.py, real_heads.py) share: the
randomisation's ranges, the labels beyond the phantom's tissue codes, smooth noise and the painting of labels."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from scipy import ndimage

from BrainTumorAILib.core.phantom import AIR, CONTRASTS, CSF, NECK, TISSUES

OUTER_CSF, MUSCLE = len(TISSUES), len(TISSUES) + 1  # labels beyond the phantom's tissue codes
LABELS = len(TISSUES) + 2


@dataclasses.dataclass(frozen=True)
class Randomisation:
    """Ranges of the random draws (probabilities and bounds); defaults are the bundled model's."""

    grid_shape: tuple[int, int, int] = (48, 60, 48)
    spacing_mm: float = 4.0
    size_jitter: float = 0.12  # heads scaled by up to +-12 %
    oblique_prob: float = 0.7
    real_contrast_prob: float = 0.35
    texture: float = 0.12
    blur_voxels: tuple[float, float] = (0.2, 0.9)
    bias: float = 0.35
    thick_slice_prob: float = 0.6
    slice_mm: tuple[float, float] = (1.0, 6.0)
    noise: tuple[float, float] = (0.0, 0.06)
    gamma: float = 0.3
    fov_cut_prob: float = 0.3
    fov_cut_fraction: tuple[float, float] = (0.1, 0.3)  # share of the axis blanked at an end
    fov_cut_both_prob: float = 0.0  # share of cut heads blanked at both ends (thick-slice scans that cover part of it)
    stripped_prob: float = 0.12
    csf_extra_prob: float = 0.6  # share of heads whose brain loses a smooth random depth to the CSF around it
    csf_extra_mm: float = 7.0  # largest such depth
    sulci_prob: float = 0.7
    muscle_prob: float = 0.5
    real_brain_prob: float = 0.0  # share of heads built around a real brain (real_brains.py) when brains are given
    real_head_prob: float = 0.0  # share of heads that are a posed real head (real_heads.py) when heads are given


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation, float32."""
    field = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), sigma)
    return field / max(float(field.std()), 1e-6)


def contrast_curve(rng: np.random.Generator, r: Randomisation) -> Callable[[np.ndarray], np.ndarray]:
    """A random intensity curve on 0..1.2 for a real brain's interior: with ``real_contrast_prob`` an increasing one
    (the sequence's own contrast, rescaled), else through random levels at five knots (any contrast at all)."""
    knots = np.linspace(0.0, 1.2, 5)
    if rng.random() < r.real_contrast_prob:
        levels = np.sort(rng.uniform(0.0, 1.0, 5))
    else:
        levels = rng.uniform(0.0, 1.0, 5)
    return lambda values: np.interp(values, knots, levels).astype(np.float32)


def paint(rng: np.random.Generator, labels: np.ndarray, r: Randomisation, interior: np.ndarray | None = None,
          label_count: int | None = None) -> np.ndarray:
    """Random intensity per label with texture and partial-volume blur, float32 (I, J, K); where ``interior`` is a
    number (not NaN) it replaces the label's intensity. ``label_count``: the labels are not the phantom's tissue
    codes but 0 (air) .. label_count - 1, so every label gets a random intensity (no real contrast to copy)."""
    if label_count is not None:
        means = rng.uniform(0.0, 1.0, label_count)
    elif rng.random() < r.real_contrast_prob:
        sequence = list(CONTRASTS)[int(rng.integers(len(CONTRASTS)))]
        real = CONTRASTS[sequence]
        means = np.asarray([*real, real[CSF], real[NECK]]) * rng.uniform(0.8, 1.2, LABELS)
    else:
        means = rng.uniform(0.0, 1.0, LABELS)
    means[AIR] = rng.uniform(0.0, 0.1)
    image = means.astype(np.float32)[labels]
    if interior is not None:
        image = np.where(np.isnan(interior), image, interior).astype(np.float32)
    image *= 1 + r.texture * smooth_noise(rng, labels.shape, rng.uniform(0.5, 2.0))
    return ndimage.gaussian_filter(image, rng.uniform(*r.blur_voxels))
