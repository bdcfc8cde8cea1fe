"""2D tumour-type classifiers: input (B, 3, S, S) in [0, 1], output (B, 4) logits in the order of CLASSES.

``vgg16_gap`` is seed 004's network (VGG16 convolutional backbone, global average pooling, Dense 64, Dropout,
Dense 32, Dense 16, Dense 4), trained from scratch, so batch norm after each convolution is on by default; ``width``
scales every channel count (1.0 = VGG16's 64..512) so tests can build a tiny one. ``monai.ResNet2D`` is the lighter
backbone: MONAI's ResNet with 2D convolutions.
"""

from __future__ import annotations

import torch
from monai.networks import nets
from torch import nn

from . import architecture

VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


class VGG16GAP(nn.Module):
    """VGG16 convolution stages (3x3 conv [+BN] + ReLU, 2x2 max-pool) -> GAP -> 64 -> dropout -> 32 -> 16 -> classes."""

    def __init__(self, in_channels: int = 3, num_classes: int = 4, width: float = 1.0, batch_norm: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for stage_channels, convolutions in VGG16_STAGES:
            out = max(4, int(round(stage_channels * width)))
            for _ in range(convolutions):
                layers.append(nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out))
                layers.append(nn.ReLU(inplace=True))
                channels = out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(channels, 64), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(64, 32), nn.ReLU(inplace=True),
            nn.Linear(32, 16), nn.ReLU(inplace=True),
            nn.Linear(16, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, num_classes) logits; H and W must be multiples of 32."""
        return self.head(self.features(images))


@architecture("vgg16_gap")
def vgg16_gap(**params) -> nn.Module:
    return VGG16GAP(**params)


@architecture("monai.ResNet2D")
def resnet_2d(*, layers: list[int], block_inplanes: list[int], num_classes: int = 4, n_input_channels: int = 3,
              block: str = "basic", **params) -> nn.Module:
    """MONAI ResNet with ``spatial_dims=2`` (e.g. layers [1, 1, 1, 1] = ResNet-10 depth)."""
    return nets.ResNet(block=block, layers=layers, block_inplanes=block_inplanes, spatial_dims=2,
                       n_input_channels=n_input_channels, num_classes=num_classes, **params)
