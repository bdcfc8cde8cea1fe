"""Learned skull stripping: the network's brain probability on the coarse RAS grid, brought back to the input grid.

The input is resampled (linear) to the card's ``preprocessing.spacing_mm`` isotropic RAS grid padded to a multiple
of the network's stride, scaled by ``normalise_intensity``; the sigmoid probability is resampled (linear) onto the
input grid, thresholded at ``inference.threshold`` (0.5), and reduced to its largest component with holes filled.
"""

from __future__ import annotations

import numpy as np
import torch

from ..image import Image, resample_to
from ..registry import ModelCard
from .grid import normalise_intensity, to_coarse
from .postprocess import solid_brain


def predict_probability(network: torch.nn.Module, volume: np.ndarray, device: torch.device) -> np.ndarray:
    """Brain probability of a normalised volume (I, J, K) whose sizes fit the network's stride. float32 (I, J, K)."""
    with torch.inference_mode():
        tensor = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[None, None].to(device)
        return torch.sigmoid(network(tensor))[0, 0].float().cpu().numpy()


def brain_probability(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device) -> Image:
    """The brain probability of ``image`` on the card's coarse RAS grid (float32 0..1)."""
    preprocessing = card.preprocessing
    coarse = to_coarse(image, float(preprocessing["spacing_mm"]), int(preprocessing.get("multiple", 8)))
    return coarse.with_array(predict_probability(network, normalise_intensity(coarse.array), device))


def learned_mask(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device) -> np.ndarray:
    """The brain mask of ``image`` on its own grid, uint8 0/1 (I, J, K)."""
    probability = resample_to(brain_probability(image, network, card, device), image, fill=0.0)
    threshold = float(card.inference.get("threshold", 0.5))
    return solid_brain(probability.array > threshold).astype(np.uint8)
