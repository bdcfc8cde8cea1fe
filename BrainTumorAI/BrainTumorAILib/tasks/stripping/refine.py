"""Edge refinement: the coarse brain probability redrawn on a fine RAS grid by a second network.

The coarse stage (learned.py) finds the brain on a 3 mm grid; its edge is off by 1-4 mm where the grid cannot place
it. A card whose ``inference.refinement`` names a second network (its ``architecture``, ``weights``,
``spacing_mm``, ``roi_size``) has that network read the image and the coarse probability together on an isotropic
grid of ``spacing_mm`` over the coarse brain's box (plus ``MARGIN_MM``), and its probability replaces the coarse one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ...core.image import Image, resample_to
from ...core.registry import ModelCard
from ...inference.windows import WindowSettings, window_logits
from .grid import ras_grid

MARGIN_MM = 12.0
PRIOR_FLOOR = 0.05  # the coarse probability above which a voxel may be brain
INSIDE = 0.5


def refinement_card(card: ModelCard) -> ModelCard | None:
    """The refinement network of ``card`` as a card of its own (architecture and weights), or None without one."""
    refinement = card.inference.get("refinement")
    if not refinement:
        return None
    return dataclasses.replace(card, id=f"{card.id} (edge refinement)", architecture=refinement["architecture"],
                               weights=refinement["weights"])


def refinement_input(image: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The network input (2, I, J, K) float32 from an image and the coarse probability on one grid: the image scaled
    so that the 1st and 99th percentiles of its voxels inside the coarse brain fall at 0 and 1 (clipped to -1..2,
    the same for any sequence or scanner range), and the probability itself."""
    inside = image[prior > INSIDE]
    low, high = np.percentile(inside, (1, 99)) if inside.size else np.percentile(image, (1, 99))
    scaled = np.clip((image - low) / max(float(high - low), 1e-6), -1.0, 2.0)
    return np.stack([scaled, prior]).astype(np.float32)


def fine_grid(coarse: Image, spacing_mm: float, multiple: int) -> Image:
    """An empty isotropic RAS grid of ``spacing_mm`` over the box of ``coarse``'s probability above PRIOR_FLOOR
    plus MARGIN_MM, each size a multiple of ``multiple``. ``coarse`` must lie on a diagonal (RAS) grid."""
    indices = np.argwhere(coarse.array > PRIOR_FLOOR)
    if indices.size == 0:
        indices = np.array([[0, 0, 0], np.array(coarse.shape) - 1])
    scale, origin = np.diag(coarse.affine)[:3], coarse.affine[:3, 3]
    low = origin + scale * indices.min(axis=0) - MARGIN_MM
    high = origin + scale * indices.max(axis=0) + MARGIN_MM
    return ras_grid(low, high, spacing_mm, multiple)


def refined_probability(image: Image, coarse: Image, network: torch.nn.Module, refinement: dict[str, Any],
                        device: torch.device) -> Image:
    """The brain probability (float32 0..1) on the fine grid of ``refinement`` (the card's ``inference.refinement``)
    from ``image`` (any grid) and its coarse probability ``coarse`` (the coarse RAS grid)."""
    multiple = int(refinement.get("multiple", 8))
    grid = fine_grid(coarse, float(refinement["spacing_mm"]), multiple)
    prior = resample_to(coarse, grid, fill=0.0).array
    fine = resample_to(image, grid).array
    inputs = torch.from_numpy(refinement_input(fine, prior))[None].to(device)
    settings = WindowSettings(tuple(int(n) for n in refinement["roi_size"]), float(refinement.get("overlap", 0.25)),
                              sw_batch_size=2)
    with torch.inference_mode():
        probability = torch.sigmoid(window_logits(network, inputs, settings))[0, 0].float().cpu().numpy()
    return grid.with_array(np.where(prior > 0.0, probability, 0.0).astype(np.float32))
