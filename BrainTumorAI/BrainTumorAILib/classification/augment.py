"""Batch augmentation of 2D slices on torch tensors, driven by one seeded generator (deterministic).

Geometry: random horizontal flip, rotation, isotropic scale and shift in one affine warp per image (bilinear,
zero fill, as an MRI slice's air). Intensity: random gamma, contrast and brightness (a gain, saturating at 1 as a
narrow display window does), then Gaussian noise on the head, clipped back to [0, 1].
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F


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
