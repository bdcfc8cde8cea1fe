"""MONAI's 3D networks, built straight from a model card's ``params``.

The seeds' 3D U-Nets are configurations of these (see models.json and Resources/Configs): the card says which
network, how many levels and channels, and what the outputs mean; this file adds no layers of its own.
"""

from __future__ import annotations

import torch
from monai.networks import nets

from . import architecture


@architecture("monai.BasicUNet")
def basic_unet(**params) -> torch.nn.Module:
    """Two 3x3x3 conv + norm + activation per level, max-pool down, transposed conv up (the seeds' U-Net)."""
    return nets.BasicUNet(spatial_dims=3, **params)


@architecture("monai.DynUNet")
def dyn_unet(**params) -> torch.nn.Module:
    """nnU-Net-style U-Net: levels given by ``kernel_size`` / ``strides`` lists."""
    return nets.DynUNet(spatial_dims=3, **params)


@architecture("monai.UNet")
def unet(**params) -> torch.nn.Module:
    """MONAI's residual U-Net (strided convolutions)."""
    return nets.UNet(spatial_dims=3, **params)


@architecture("monai.SegResNet")
def seg_res_net(**params) -> torch.nn.Module:
    """SegResNet as in the MONAI model-zoo bundle ``brats_mri_segmentation`` (4 inputs, 3 sigmoid outputs)."""
    return nets.SegResNet(spatial_dims=3, **params)
