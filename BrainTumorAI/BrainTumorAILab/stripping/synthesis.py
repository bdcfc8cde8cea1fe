"""Synthetic training heads for the learned stripper, randomised far beyond realism (SynthStrip's idea).

Each sample is a phantom head (phantom.py) drawn on the stripper's RAS working grid with a random pose and size,
given anatomy the phantom lacks (the CSF around the brain as its own label, thickened by a random smooth amount
that is taken from the brain; CSF-filled sulci in the brain's outer layer, which stay brain; muscle patches in the
scalp and neck), or, with ``real_brain_prob``, a head built around a real stripped brain (real_brains.py). Either
is then painted with a random intensity per label (or a jittered real contrast; a random curve of a real brain's
own intensities), tissue texture, partial-volume blur, a smooth multiplicative bias field, thick slices along a
random axis (1-6 mm acquisitions brought back to the working grid), noise, a gamma curve, sometimes a cut field of
view or an already stripped brain. So the network learns the brain's shape and context, not one contrast.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from BrainTumorAILib.core.phantom import CSF, GREY, NECK, SCALP, WHITE, make_phantom
from BrainTumorAILib.tasks.stripping.grid import normalise_intensity
from .painting import MUSCLE, OUTER_CSF, Randomisation, contrast_curve, paint, smooth_noise
from .real_brains import RealBrain, real_brain_head
from .real_heads import RealHead, real_head_sample


def synthetic_head(seed: int, randomisation: Randomisation = Randomisation(), brains: Sequence[RealBrain] = (),
                   heads: Sequence[RealHead] = ()) -> tuple[np.ndarray, np.ndarray]:
    """One training pair on the working grid: (normalised image float32 (I, J, K), brain mask uint8 (I, J, K)).

    With ``heads``, a share ``real_head_prob`` of the samples is one of them posed and repainted (real_heads.py).
    With ``brains``, a share ``real_brain_prob`` of the others is built around one of them (real_brains.py), the
    rest around the phantom's brain; without either, the heads are those of the same seed before they existed."""
    r = randomisation
    rng = np.random.default_rng(seed)
    spacing = r.spacing_mm * (1 + rng.uniform(-r.size_jitter, r.size_jitter))
    phantom_seed, oblique, tumour = int(rng.integers(2**31)), bool(rng.random() < r.oblique_prob), rng.random() < 0.8
    real = np.random.default_rng([seed, 2])
    whole = np.random.default_rng([seed, 3])
    if heads and whole.random() < r.real_head_prob:
        image, brain = real_head_sample(whole, heads[int(whole.integers(len(heads)))], r.grid_shape, spacing, r)
    elif brains and real.random() < r.real_brain_prob:
        brain_pick = brains[int(real.integers(len(brains)))]
        tissues, interior, brain = real_brain_head(real, brain_pick, r.grid_shape, spacing, oblique)
        image = paint(rng, tissues, r, np.where(brain, contrast_curve(real, r)(interior), np.nan))
    else:
        phantom = make_phantom(phantom_seed, shape=r.grid_shape, spacing=(spacing,) * 3, oblique=oblique,
                               tumour=bool(tumour))
        tissues, brain = _vary_anatomy(np.random.default_rng([seed, 1]), phantom.tissues.array,
                                       phantom.brain_mask.array.astype(bool), spacing, r)
        image = paint(rng, tissues, r)
    if rng.random() < r.stripped_prob:
        image = np.where(brain, image, 0.0).astype(np.float32)
    image = acquire(rng, image, r)
    if rng.random() < r.fov_cut_prob:
        image, brain = _cut_field_of_view(rng, image, brain, r.fov_cut_fraction, r.fov_cut_both_prob)
    if rng.random() < 0.5:
        image, brain = image[::-1], brain[::-1]
    return normalise_intensity(np.ascontiguousarray(image)), np.ascontiguousarray(brain).astype(np.uint8)


def _vary_anatomy(rng: np.random.Generator, tissues: np.ndarray, brain: np.ndarray, spacing_mm: float,
                  r: Randomisation) -> tuple[np.ndarray, np.ndarray]:
    """Label map (I, J, K) uint8 with OUTER_CSF for the CSF around the brain, sometimes deepened into the brain by
    a smooth random 0..``csf_extra_mm`` (those voxels leave the brain mask), sulci of OUTER_CSF in the outer
    6-15 mm of grey and white matter (they stay in the brain mask), and MUSCLE patches in the scalp and neck;
    returns (labels, brain mask bool)."""
    labels = tissues.copy()
    outer = (tissues == CSF) & ~brain
    if rng.random() < r.csf_extra_prob:
        depth = ndimage.distance_transform_edt(brain, sampling=spacing_mm)  # mm to the nearest voxel outside
        share = np.clip(0.5 + 0.4 * smooth_noise(rng, brain.shape, 15.0 / spacing_mm), 0.0, 1.0)
        lost = brain & (depth <= r.csf_extra_mm * rng.uniform(0.3, 1.0) * share)
        brain, outer = brain & ~lost, outer | lost
    labels[outer] = OUTER_CSF
    if rng.random() < r.sulci_prob:
        depth = ndimage.distance_transform_edt(brain, sampling=spacing_mm)
        lines = np.abs(smooth_noise(rng, brain.shape, 4.0 / spacing_mm)) < rng.uniform(0.1, 0.3)
        labels[lines & (depth < rng.uniform(6.0, 15.0)) & np.isin(tissues, (GREY, WHITE)) & brain] = OUTER_CSF
    if rng.random() < r.muscle_prob:
        soft = np.isin(tissues, (SCALP, NECK))
        labels[soft & (smooth_noise(rng, brain.shape, 6.0 / spacing_mm) > rng.uniform(-0.5, 1.0))] = MUSCLE
    return labels, brain


def acquire(rng: np.random.Generator, image: np.ndarray, r: Randomisation) -> np.ndarray:
    """Bias field, thick slices along one axis (sampled then interpolated back), Rician-like noise, gamma."""
    coarse_bias = rng.normal(size=(4, 4, 4))
    bias = _fit(ndimage.zoom(coarse_bias, np.array(image.shape) / 4, order=1, grid_mode=True, mode="nearest"),
                _shape(image))
    image = image * np.exp(r.bias * bias / max(float(np.abs(bias).max()), 1e-6)).astype(np.float32)
    if rng.random() < r.thick_slice_prob:
        axis = int(rng.integers(3))
        step = rng.uniform(*r.slice_mm) / r.spacing_mm
        if step > 1.05:
            sigma = [0.0, 0.0, 0.0]
            sigma[axis] = 0.42 * step
            image = ndimage.gaussian_filter(image, sigma)
            positions = np.arange(0, image.shape[axis] - 1 + 1e-6, step)
            sampled = np.take(image, np.rint(positions).astype(int), axis=axis)
            zoom = [1.0, 1.0, 1.0]
            zoom[axis] = image.shape[axis] / sampled.shape[axis]
            back = ndimage.zoom(sampled, zoom, order=1, grid_mode=True, mode="nearest")
            image = _fit(back, image.shape)
    scale = float(np.percentile(image, 99.5)) or 1.0
    noise = rng.uniform(*r.noise) * scale
    image = np.abs(image + rng.normal(0.0, noise, image.shape).astype(np.float32)) if noise > 0 else image
    image = np.clip(image / scale, 0.0, None) ** np.exp(rng.normal(0.0, r.gamma))
    return image.astype(np.float32)


def _shape(array: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in array.shape)


def _fit(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Crop or edge-pad ``array`` to ``shape``."""
    array = array[tuple(slice(0, n) for n in shape)]
    widths = [(0, n - m) for n, m in zip(shape, array.shape)]
    return np.pad(array, widths, mode="edge")


def _cut_field_of_view(rng: np.random.Generator, image: np.ndarray, brain: np.ndarray,
                       fraction: tuple[float, float], both_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Blank a slab at one end of one axis, or with ``both_prob`` at both ends (an acquisition that stops short or
    covers only part of the head); the brain there is not seen."""
    axis = int(rng.integers(3))
    keep = np.ones(image.shape[axis], dtype=bool)
    width = int(rng.uniform(*fraction) * image.shape[axis])
    keep[:width] = False
    if rng.random() < 0.5:
        keep = keep[::-1].copy()
    if both_prob and rng.random() < both_prob:
        other = int(rng.uniform(*fraction) * keep.size)
        if keep[0]:
            keep[:other] = False
        else:
            keep[keep.size - other:] = False
    shape = [1, 1, 1]
    shape[axis] = -1
    keep = keep.reshape(shape)
    return np.where(keep, image, 0.0).astype(np.float32), brain & keep
