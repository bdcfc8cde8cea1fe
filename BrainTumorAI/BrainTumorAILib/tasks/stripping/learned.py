"""Learned skull stripping: the network's brain probability on the coarse RAS grid, brought back to the input grid.

The input is resampled (linear) to the card's ``preprocessing.spacing_mm`` isotropic RAS grid and cut to the head's
bounding box plus ``HEAD_MARGIN_MM`` (padded to a multiple of the network's stride), scaled by
``normalise_intensity``; with ``inference.roi_size`` (the training crop) the network runs on overlapping windows of
that size (``inference.windows``: MONAI sliding windows, Gaussian blending), because a network with instance normalisation trained
on crops mispredicts a whole volume whose field of view differs. The cut matters as much: training heads fill their
grid, and a research scan's 256 mm field of view leaves windows of mostly air above and in front of the head, where
the network painted brain (a mask in the air on the AOMIC and EDSD heads until the cut); the
sigmoid probability is resampled (linear) onto the input grid, thresholded at ``inference.threshold`` (0.5), and
reduced to its largest component with holes filled. A card with ``inference.refinement`` has its edge redrawn on
a finer grid by a second network first (refine.py).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ...core.image import Image, resample_to
from ...core.preprocess import bounding_box, head_mask, pad_to_multiple
from ...core.registry import ModelCard
from ...inference.windows import WindowSettings, window_logits
from .grid import normalise_intensity, to_coarse
from .postprocess import solid_component
from .refine import refined_probability

HEAD_MARGIN_MM = 15.0


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
            settings = WindowSettings(tuple(int(n) for n in roi_size), overlap, sw_batch_size=4)
            logits = window_logits(network, tensor, settings)
        return torch.sigmoid(logits)[0, 0].float().cpu().numpy()


def brain_probability(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device) -> Image:
    """The brain probability of ``image`` on the card's coarse RAS grid (float32 0..1; 0 outside the head's box)."""
    preprocessing = card.preprocessing
    spacing, multiple = float(preprocessing["spacing_mm"]), int(preprocessing.get("multiple", 8))
    coarse = to_coarse(image, spacing, multiple)
    box = bounding_box(head_mask(coarse.array), int(np.ceil(HEAD_MARGIN_MM / spacing)))
    volume, pad = pad_to_multiple(normalise_intensity(box.apply(coarse.array)), multiple)
    inference = card.inference
    inside = predict_probability(network, volume, device, inference.get("roi_size"),
                                 float(inference.get("overlap", 0.5)))
    return coarse.with_array(box.invert(pad.invert(inside)).astype(np.float32, copy=False))


def learned_mask(image: Image, network: torch.nn.Module, card: ModelCard, device: torch.device,
                 refiner: torch.nn.Module | None = None) -> np.ndarray:
    """The brain mask of ``image`` on its own grid, uint8 0/1 (I, J, K); with ``refiner`` (the network of the card's
    ``inference.refinement``) the coarse probability is redrawn on its fine grid first (refine.py)."""
    probability = brain_probability(image, network, card, device)
    threshold = float(card.inference.get("threshold", 0.5))
    if refiner is not None:
        refinement = card.inference["refinement"]
        probability = refined_probability(image, probability, refiner, refinement, device)
        threshold = float(refinement.get("threshold", 0.5))
    probability = resample_to(_zeroed_beyond(probability, threshold), image, fill=0.0)
    return solid_component(probability.array > threshold).astype(np.uint8)


def _zeroed_beyond(probability: Image, threshold: float) -> Image:
    """``probability`` set to 0 beyond 2 voxels of the box of its voxels above ``threshold``, so that ``resample_to``
    interpolates (linear) only inside that box (0.36 / 0.45 of the head's box on AOMIC / EDSD) and finds the same
    points above ``threshold``: a point above it has a corner above it, so its whole cell keeps its values; any
    other point has every corner at or below it, zeroed or not."""
    box = bounding_box(probability.array > threshold, 2)
    return probability.with_array(box.invert(box.apply(probability.array)))
