"""Batch augmentation of 2D slices on torch tensors, driven by one seeded generator (deterministic).

Geometry: random horizontal flip, rotation, isotropic scale and shift in one affine warp per image (bilinear,
zero fill, as an MRI slice's air). Intensity: random gamma, contrast and brightness (a gain, saturating at 1 as a
narrow display window does), then Gaussian noise on the head, clipped back to [0, 1]. ``strip_skulls`` blanks the
outer rim of a share of the heads, so a network trained on whole heads also meets skull-stripped brains, as slices of
stripped 3D studies (BraTS) are.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


@dataclasses.dataclass(frozen=True)
class Augmentation:
    flip: float = 0.5
    rotate_degrees: float = 15.0
    scale: float = 0.1
    shift: float = 0.08
    gamma: float = 0.3
    contrast: float = 0.15
    brightness: float = 0.0
    noise: float = 0.0
    strip: float = 0.0  # share of images whose skull and scalp are blanked (strip_skulls)


def augment(images: torch.Tensor, settings: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> augmented (B, C, H, W) in [0, 1]."""
    count = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator)

    angle = uniform(-settings.rotate_degrees, settings.rotate_degrees) * math.pi / 180
    scale = uniform(1 - settings.scale, 1 + settings.scale)
    flip = torch.where(torch.rand(count, generator=generator) < settings.flip, -1.0, 1.0)
    shift = torch.stack([uniform(-settings.shift, settings.shift), uniform(-settings.shift, settings.shift)], 1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gamma = torch.exp(uniform(-settings.gamma, settings.gamma)).view(-1, 1, 1, 1)
    contrast = uniform(1 - settings.contrast, 1 + settings.contrast).view(-1, 1, 1, 1)
    gain = uniform(1 - settings.brightness, 1 + settings.brightness).view(-1, 1, 1, 1)
    noise_std = uniform(0, settings.noise).view(-1, 1, 1, 1)
    warped = warped.clamp(0, 1) ** gamma
    mean = warped.mean(dim=(1, 2, 3), keepdim=True)
    warped = ((warped - mean) * contrast + mean).clamp(0, 1) * gain
    head = (warped > 0.02).float()
    noise = torch.randn(warped.shape, generator=generator) * noise_std * head
    return (warped + noise).clamp(0, 1)


STRIP_DEPTH = (0.04, 0.12)  # the blanked rim's depth, as a share of the head's equivalent diameter


def strip_skulls(images: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """(B, S, S) images in [0, 1] -> a copy in which a share ``probability`` of the heads lose an outer rim of
    random depth (STRIP_DEPTH), blanked to 0, and are framed again (``frame_head``): a crude skull stripping that
    leaves a brain filling the image, as a slice of a stripped 3D study shows it."""
    from BrainTumorAILib.tasks.classification.dataset import resize
    from BrainTumorAILib.tasks.classification.standardise import frame_head, head_mask_2d

    out = np.array(images, dtype=np.float32, copy=True)
    for index, image in enumerate(out):
        if rng.random() >= probability:
            continue
        mask = head_mask_2d(image)
        if mask.sum() < 64:
            continue
        depth = rng.uniform(*STRIP_DEPTH) * 2 * np.sqrt(mask.sum() / np.pi)
        stripped = np.where(ndimage.distance_transform_edt(mask) < depth, 0.0, image).astype(np.float32)
        out[index] = resize(frame_head(stripped), image.shape[0])
    return out
