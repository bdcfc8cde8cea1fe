"""Skull stripping: a brain mask on the input grid from one MRI sequence (T1, T1c, T2 or FLAIR), learned or classical.

``strip_skull(image)`` returns a ``StripResult`` whose ``mask`` (uint8 0/1) and ``brain`` (input voxels, 0 outside)
lie on the input image's grid, whatever its orientation or voxel size. An input that is already skull-stripped
(constant background around the brain) keeps its whole brain.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..case import SEQUENCES
from ..errors import InputError, ModelError
from ..image import Image, resample_to
from ..preprocess import foreground_mask
from ..registry import ModelCard, Registry
from .classical import classical_brain
from .postprocess import solid_brain

METHODS = ("learned", "classical")
TASK = "skull_stripping"
STRIPPED_COVER = 0.7


@dataclasses.dataclass(frozen=True)
class StripResult:
    """``mask``: uint8 0/1 brain mask; ``brain``: the input's voxels inside it, 0 elsewhere. Both on the input grid."""

    mask: Image
    brain: Image
    method: str
    card: ModelCard | None = None


def strip_skull(image: Image, *, modality: str | None = None, method: str = "learned", model_id: str | None = None,
                device: str = "auto") -> StripResult:
    """Find the brain in ``image`` (any of T1, T1c, T2, FLAIR; with or without skull) and mask it.

    ``method`` "learned" uses the registry's skull-stripping model (``model_id`` or the default), "classical" the
    threshold-and-morphology baseline. Raises InputError for an unusable image or option, ModelError for a model
    that cannot be used.
    """
    _check(image, modality, method)
    card = None
    if method == "learned":
        mask, card = _learned(image, modality, model_id, device)
        mask = _keep_stripped_brain(image, mask)
    else:
        mask = solid_brain(resample_to(classical_brain(image), image, label=True).array > 0).astype(np.uint8)
    if not mask.any():
        raise InputError(f"No brain was found in {image.name} ({method} skull stripping)")
    brain = np.where(mask > 0, image.array, 0).astype(image.array.dtype, copy=False)
    return StripResult(Image(mask, image.affine, None), Image(brain, image.affine, None), method, card)


def _keep_stripped_brain(image: Image, mask: np.ndarray) -> np.ndarray:
    """An input that is already skull-stripped keeps all of its brain: when the mask covers at least
    ``STRIPPED_COVER`` of the voxels that differ from the constant background (a raw head is never that much brain),
    the mask becomes that foreground's largest component with holes filled."""
    foreground = foreground_mask(image.array)
    if foreground.all() or np.logical_and(foreground, mask > 0).sum() < STRIPPED_COVER * foreground.sum():
        return mask
    return solid_brain(foreground).astype(np.uint8)


def _check(image: Image, modality: str | None, method: str) -> None:
    if method not in METHODS:
        raise InputError(f"Unknown skull-stripping method '{method}' (choose {' or '.join(METHODS)})")
    if modality is not None and modality not in SEQUENCES:
        raise InputError(f"Unknown modality '{modality}' for {image.name} (choose one of {', '.join(SEQUENCES)})")
    array = image.array
    if array.ndim != 3 or min(array.shape) < 2:
        raise InputError(f"Skull stripping needs a 3D volume, got shape {array.shape}: {image.name}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"Image holds NaN or infinite voxels: {image.name}")
    if float(array.max()) == float(array.min()):
        raise InputError(f"Image is constant, it holds no anatomy: {image.name}")


def _learned(image: Image, modality: str | None, model_id: str | None, device: str) -> tuple[np.ndarray, ModelCard]:
    from ..device import select_device
    from ..weights import load_model
    from .learned import learned_mask

    card = Registry.load().resolve(TASK, model_id)
    if modality is not None and "any" not in card.inputs and modality not in card.inputs:
        raise ModelError(f"Model '{card.id}' strips {', '.join(card.inputs)} images, not {modality}: {image.name}")
    torch_device = select_device(device)
    network = load_model(card).to(torch_device)
    return learned_mask(image, network, card, torch_device), card
