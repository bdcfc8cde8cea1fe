"""The skull stripper's network: seed 004's Residual UNet3D with its improved residual block.

Block: three 3x3x3 convolutions, each with instance normalisation and leaky ReLU, dropout after the first (0.2)
and the second (0.1), and a pointwise-convolution shortcut added before the last activation. Encoder levels
halve the grid with max pooling, the decoder doubles it with transposed convolutions and concatenates the skip.
Input (N, 1, I, J, K) with I, J, K multiples of 2 ** (len(features) - 1); output (N, 1, I, J, K) logits (apply a
sigmoid for the brain probability).
"""

from __future__ import annotations

import torch
from torch import nn

from . import architecture


class ResidualBlock(nn.Module):
    """(N, C_in, I, J, K) -> (N, C_out, I, J, K)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: tuple[float, float] = (0.2, 0.1)):
        super().__init__()

        def conv(channels_in: int) -> list[nn.Module]:
            return [nn.Conv3d(channels_in, out_channels, 3, padding=1, bias=False),
                    nn.InstanceNorm3d(out_channels, affine=True)]

        self.body = nn.Sequential(
            *conv(in_channels), nn.LeakyReLU(0.01, inplace=True), nn.Dropout(dropout[0]),
            *conv(out_channels), nn.LeakyReLU(0.01, inplace=True), nn.Dropout(dropout[1]),
            *conv(out_channels),
        )
        self.shortcut = nn.Conv3d(in_channels, out_channels, 1)
        self.activation = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class ResidualUNet3D(nn.Module):
    """U-Net of residual blocks with ``features[level]`` channels per level; (N, C, I, J, K) -> (N, out, I, J, K)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, features: tuple[int, ...] = (8, 16, 32, 64),
                 dropout: tuple[float, float] = (0.2, 0.1)):
        super().__init__()
        features = tuple(int(f) for f in features)
        self.encoder = nn.ModuleList()
        channels = in_channels
        for width in features:
            self.encoder.append(ResidualBlock(channels, width, tuple(dropout)))
            channels = width
        self.pool = nn.MaxPool3d(2)
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for width in reversed(features[:-1]):
            self.upsample.append(nn.ConvTranspose3d(channels, width, 2, stride=2))
            self.decoder.append(ResidualBlock(2 * width, width, tuple(dropout)))
            channels = width
        self.head = nn.Conv3d(channels, out_channels, 1)
        self.multiple = 2 ** (len(features) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        for upsample, block, skip in zip(self.upsample, self.decoder, reversed(skips[:-1])):
            x = block(torch.cat([upsample(x), skip], dim=1))
        return self.head(x)


@architecture("ResidualUNet3D")
def build_residual_unet(**params) -> nn.Module:
    return ResidualUNet3D(**params)
