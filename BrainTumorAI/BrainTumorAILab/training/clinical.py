"""Augmentations that make a BraTS patch look like a clinical study, on network-grid patches.

A patch is ``{"image": (C, I, J, K) float32, ...}`` whose channels are normalised brain (0 outside the brain and in
a missing channel). Every transform here changes only the image and only inside each channel's brain, so
background and missing channels stay 0, as the network sees them at inference:

- ``RandDropChannelsd``: a present channel among ``droppable`` becomes 0, as a sequence missing from a study;
- ``RandLesionContrastd``: the tumour's contrast to the brain around it made fainter, as some scanners and
  protocols show oedema and enhancement (BraTS2021_00014's oedema lies 0.9 brain standard deviations above the
  brain on FLAIR, the 2013 cases' 3.4-4.1);
- ``RandThickSlicesd``: one axis block-averaged over 2-4 voxels and interpolated back (3-6 mm slices on 1.5 mm);
- ``RandChannelMisalignd``: one channel moved rigidly by up to a few voxels and degrees against the others, as
  series of one session that were not co-registered exactly;
- ``RandBiasFieldd`` and ``RandGammad``: a smooth multiplicative field and a gamma curve on the brain's range,
  as raw scanner intensities vary before normalisation.

``config["clinical"]`` (``augmentation.clinical`` of a segmentation config) holds one ``*_prob`` per transform.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from monai import transforms as mt
from monai.transforms import MapTransform, RandomizableTransform

from BrainTumorAILib.core.errors import InputError

KEY = "image"


def _channel_mask(image: torch.Tensor) -> torch.Tensor:
    return image != 0


class _PatchTransform(RandomizableTransform, MapTransform):
    """A random transform of the patch's ``image`` applied with probability ``prob``."""

    def __init__(self, prob: float):
        RandomizableTransform.__init__(self, prob)
        MapTransform.__init__(self, KEY)


class RandDropChannelsd(_PatchTransform):
    """Each present channel of ``droppable`` (indices) becomes 0 with probability ``prob``; one always stays."""

    def __init__(self, droppable: Sequence[int], prob: float):
        super().__init__(prob)
        self.droppable = list(droppable)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        image = torch.as_tensor(out[KEY]).clone()
        for channel in self.droppable:
            present = [c for c in range(image.shape[0]) if bool(image[c].any())]
            if channel in present and len(present) > 1 and self.R.rand() < self.prob:
                image[channel] = 0
        out[KEY] = image
        return out


class RandLesionContrastd(_PatchTransform):
    """With ``prob`` per channel of ``channels`` (indices; None: every channel), the lesion's (label > 0) departure
    from the patch's other brain voxels' median scaled by a factor drawn from ``factors``, feathered over one voxel
    at the lesion's border. Needs ``"label"`` (1, I, J, K)."""

    def __init__(self, prob: float, factors: tuple[float, float] = (0.3, 1.0),
                 channels: Sequence[int] | None = None):
        super().__init__(prob)
        self.factors = factors
        self.channels = None if channels is None else list(channels)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        lesion = torch.as_tensor(out["label"])[0] > 0
        if not lesion.any():
            return out
        image = torch.as_tensor(out[KEY]).float().clone()
        weight = torch.nn.functional.avg_pool3d(lesion.float()[None, None], 3, stride=1, padding=1)[0, 0]
        weight = torch.maximum(weight, lesion.float())
        for channel in range(image.shape[0]) if self.channels is None else self.channels:
            mask = _channel_mask(image[channel])
            if not mask.any() or self.R.rand() >= self.prob:
                continue
            around = image[channel][mask & ~lesion]
            reference = float(around.median()) if around.numel() else 0.0
            factor = float(self.R.uniform(*self.factors))
            faded = reference + (image[channel] - reference) * factor
            image[channel] = torch.where(mask, image[channel] + weight * (faded - image[channel]), image[channel])
        out[KEY] = image
        return out


class RandThickSlicesd(_PatchTransform):
    """With ``prob``, one random axis of every channel block-averaged over ``factors`` voxels and resized back."""

    def __init__(self, prob: float, factors: tuple[int, int] = (2, 4)):
        super().__init__(prob)
        self.factors = factors

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        if self.R.rand() >= self.prob:
            return out
        image = torch.as_tensor(out[KEY]).float()
        axis = int(self.R.randint(3))
        factor = int(self.R.randint(self.factors[0], self.factors[1] + 1))
        kernel = [1, 1, 1]
        kernel[axis] = factor
        mask = _channel_mask(image)
        thick = torch.nn.functional.avg_pool3d(image[None], kernel, stride=kernel, ceil_mode=True)
        back = torch.nn.functional.interpolate(thick, size=image.shape[1:], mode="trilinear", align_corners=False)[0]
        out[KEY] = torch.where(mask, back, torch.zeros_like(back))
        return out


class RandChannelMisalignd(_PatchTransform):
    """With ``prob`` per channel but the first present one, a rigid move of up to ``voxels`` and ``degrees``."""

    def __init__(self, prob: float, voxels: float = 2.0, degrees: float = 3.0):
        super().__init__(prob)
        self.move = mt.RandAffine(prob=1.0, rotate_range=(math.radians(degrees),) * 3,
                                  translate_range=(voxels,) * 3, mode="bilinear", padding_mode="zeros")

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.move.set_random_state(seed=int(self.R.randint(2**31)))
        return self

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        image = torch.as_tensor(out[KEY]).float().clone()
        present = [c for c in range(image.shape[0]) if bool(image[c].any())]
        for channel in present[1:]:
            if self.R.rand() < self.prob:
                image[channel] = torch.as_tensor(self.move(image[channel][None])).as_subclass(torch.Tensor)[0]
        out[KEY] = image
        return out


class RandBiasFieldd(_PatchTransform):
    """With ``prob`` per channel, a smooth multiplicative field (MONAI's) on the brain's intensities counted from
    ``floor`` (about the darkest normalised brain value), so the field acts as on raw scanner values."""

    def __init__(self, prob: float, coefficient: float = 0.4, floor: float = -3.0):
        super().__init__(prob)
        self.field = mt.RandBiasField(coeff_range=(0.0, coefficient), prob=1.0)
        self.floor = floor

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.field.set_random_state(seed=int(self.R.randint(2**31)))
        return self

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        image = torch.as_tensor(out[KEY]).float().clone()
        for channel in range(image.shape[0]):
            mask = _channel_mask(image[channel])
            if mask.any() and self.R.rand() < self.prob:
                gain = torch.as_tensor(self.field(torch.ones_like(image[channel])[None])).as_subclass(torch.Tensor)[0]
                shifted = (image[channel] - self.floor) * gain + self.floor
                image[channel] = torch.where(mask, shifted, image[channel])
        out[KEY] = image
        return out


class RandGammad(_PatchTransform):
    """With ``prob`` per channel, a gamma in ``gammas`` on the brain's own intensity range."""

    def __init__(self, prob: float, gammas: tuple[float, float] = (0.7, 1.5)):
        super().__init__(prob)
        self.gammas = gammas

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        image = torch.as_tensor(out[KEY]).float().clone()
        for channel in range(image.shape[0]):
            mask = _channel_mask(image[channel])
            if not mask.any() or self.R.rand() >= self.prob:
                continue
            gamma = float(np.exp(self.R.uniform(np.log(self.gammas[0]), np.log(self.gammas[1]))))
            values = image[channel][mask]
            low, high = float(values.min()), float(values.max())
            span = max(high - low, 1e-6)
            image[channel][mask] = ((values - low) / span) ** gamma * span + low
        out[KEY] = image
        return out


def clinical_transforms(clinical: Mapping[str, Any] | None, droppable: Sequence[int],
                        inputs: Sequence[str] = ()) -> list[mt.Transform]:
    """The transforms ``clinical`` asks for (a ``*_prob`` each; absent or 0: not applied), in a fixed order.
    ``lesion_contrast_inputs`` names the ``inputs`` (the channels' sequences, in order) whose lesion may fade."""
    if not clinical:
        return []
    transforms: list[mt.Transform] = []
    if clinical.get("lesion_contrast_prob"):
        transforms.append(RandLesionContrastd(float(clinical["lesion_contrast_prob"]),
                                              channels=_channels(clinical.get("lesion_contrast_inputs"), inputs)))
    makers = (
        ("thick_slices_prob", RandThickSlicesd),
        ("misalign_prob", RandChannelMisalignd),
        ("bias_field_prob", RandBiasFieldd),
        ("gamma_prob", RandGammad),
    )
    transforms += [make(float(clinical[key])) for key, make in makers if clinical.get(key)]
    if clinical.get("drop_channel_prob") and droppable:
        transforms.append(RandDropChannelsd(droppable, float(clinical["drop_channel_prob"])))
    return transforms


def _channels(names: Sequence[str] | None, inputs: Sequence[str]) -> list[int] | None:
    """The channel index of each sequence in ``names`` (None: every channel)."""
    if names is None:
        return None
    unknown = [name for name in names if name not in inputs]
    if unknown:
        raise InputError(f"augmentation.clinical.lesion_contrast_inputs {unknown} are not among the inputs "
                         f"{list(inputs)}")
    return [list(inputs).index(name) for name in names]
