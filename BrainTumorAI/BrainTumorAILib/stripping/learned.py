"""Learned skull stripping: the network's brain probability on the coarse RAS grid, brought back to the input grid.

The input is resampled (linear) to the card's ``preprocessing.spacing_mm`` isotropic RAS grid padded to a multiple
of the network's stride, scaled by ``normalise_intensity``; with ``inference.roi_size`` (the training crop) the
network runs on overlapping windows of that size (MONAI sliding-window inference, Gaussian blending), because a
network with instance normalisation trained on crops mispredicts a whole volume whose field of view differs; the
sigmoid probability is resampled (linear) onto the input grid, thresholded at ``inference.threshold`` (0.5), and
reduced to its largest component with holes filled.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from ..image import Image, resample_to
from ..registry import ModelCard
from .grid import normalise_intensity, to_coarse
from .postprocess import solid_brain


def predict_probability(network: torch.nn.Module, volume: np.ndarray, device: torch.device,
                        roi_size: Sequence[int] | None = None, overlap: float = 0.5) -> np.ndarray:
    """Brain probability of a normalised volume (I, J, K), float32 (I, J, K): in windows of ``roi_size`` (sizes
    that fit the network's stride; ``overlap`` between neighbours), or in one pass when ``roi_size`` is None (then
    the volume's sizes must fit the stride)."""
    with torch.inference_mode():
        tensor = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[None, None].to(device)
        if roi_size is None:
            logits = network(tensor)
        else:
            logits = sliding_window_inference(tensor, tuple(int(n) for n in roi_size), 4, network, overlap=overlap,
                                              mode="gaussian")
        return torch.sigmoid(logits)[0, 0].float().cpu().numpy()


def brain_probability(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device) -> Image:
    """The brain probability of ``image`` on the card's coarse RAS grid (float32 0..1)."""
    preprocessing = card.preprocessing
    coarse = to_coarse(image, float(preprocessing["spacing_mm"]), int(preprocessing.get("multiple", 8)))
    inference = card.inference
    return coarse.with_array(predict_probability(network, normalise_intensity(coarse.array), device,
                                                 inference.get("roi_size"), float(inference.get("overlap", 0.5))))


def learned_mask(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device) -> np.ndarray:
    """The brain mask of ``image`` on its own grid, uint8 0/1 (I, J, K)."""
    probability = resample_to(brain_probability(image, network, card, device), image, fill=0.0)
    threshold = float(card.inference.get("threshold", 0.5))
    return solid_brain(probability.array > threshold).astype(np.uint8)
