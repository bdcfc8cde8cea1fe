"""Skull stripping: a brain mask on the input grid from one MRI sequence (T1, T1c, T2 or FLAIR), learned or classical.

``strip_skull(image)`` returns a ``StripResult`` whose ``mask`` (uint8 0/1) and ``brain`` (input voxels, 0 outside)
lie on the input image's grid, whatever its orientation or voxel size. An input that is already skull-stripped
(constant background around the brain) keeps its whole brain. Every mask goes through the plausibility checks of
``guard``; a learned mask that fails them gives way to the classical one when that one passes (``warnings`` says so).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ...core.errors import InputError, ModelError
from ...core.image import Image, resample_to
from ...core.preprocess import BRAIN_VOLUME_ML, foreground_mask
from ...core.registry import ModelCard, Registry
from ...core.vocabulary import SEQUENCES
from .classical import classical_brain
from .edge import classical_edge, edge_contrast, fine_enough
from .guard import check_mask, choose_mask, disagreement, head_region
from .postprocess import solid_component

METHODS = ("learned", "classical", "deepbet")
TASK = "skull_stripping"
STRIPPED_COVER = 0.5


@dataclasses.dataclass(frozen=True)
class StripResult:
    """``mask``: uint8 0/1 brain mask; ``brain``: the input's voxels inside it, 0 elsewhere. Both on the input grid.
    ``method``: the one whose mask this is ("classical" after a fallback, with ``card`` None then); ``warnings``: the
    failed plausibility checks and the fallback taken, as sentences, empty when the mask passed."""

    mask: Image
    brain: Image
    method: str
    card: ModelCard | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)


def strip_skull(image: Image, *, modality: str | None = None, method: str = "learned", model_id: str | None = None,
                device: str = "auto", guard: bool = True) -> StripResult:
    """Find the brain in ``image`` (any of T1, T1c, T2, FLAIR; with or without skull) and mask it.

    ``method`` "deepbet" runs that peer when it is installed (peers.py); "learned" uses the registry's skull-stripping model (``model_id`` or the default), "classical" the
    threshold-and-morphology baseline. ``guard`` False returns the learned mask unchecked, as a model evaluation
    must score it (no fallback). Raises InputError for an unusable image or option, ModelError for a model that
    cannot be used.
    """
    _check(image, modality, method)
    card = None
    if method == "learned":
        card = _card(image, modality, model_id)
        band_mm = _edge_band_mm(image, card, modality)
        with ThreadPoolExecutor(max_workers=2) as pool:
            references = None
            if (guard or band_mm is not None) and not _may_be_stripped(image):
                references = _References.start(pool, image)
            mask = _learned(image, card, device)
            mask, method, warnings = _checked_learned(image, mask, band_mm, guard, pool, references)
        card = card if method == "learned" else None
    elif method == "deepbet":
        from .peers import deepbet_mask

        mask = deepbet_mask(image, device)
        warnings = [f"deepbet mask: {problem}" for problem in check_mask(image.with_array(mask), image)]
    else:
        mask = _classical(image)
        warnings = [f"classical mask: {problem}" for problem in check_mask(image.with_array(mask), image)]
    if not mask.any():
        raise InputError(f"No brain was found in {image.name} ({method} skull stripping)")
    brain = np.where(mask > 0, image.array, 0).astype(image.array.dtype, copy=False)
    return StripResult(Image(mask, image.affine, None), Image(brain, image.affine, None), method, card, warnings)


def _classical(image: Image) -> np.ndarray:
    """The classical brain mask of ``image`` on its grid, uint8 0/1 (I, J, K)."""
    return solid_component(resample_to(classical_brain(image), image, label=True).array > 0).astype(np.uint8)


@dataclasses.dataclass(frozen=True)
class _References:
    """What the guard and the classical edge compare the learned mask with, worked out in two threads while the
    network runs (scipy releases the GIL): the classical mask (uint8 (I, J, K)) and the head region (bool)."""

    classical: Future
    head: Future

    @classmethod
    def start(cls, pool: ThreadPoolExecutor, image: Image) -> "_References":
        return cls(pool.submit(_classical, image), pool.submit(head_region, image.array))


def _edge_band_mm(image: Image, card: ModelCard, modality: str | None) -> float | None:
    """The card's classical edge band (edge.py) when it applies to ``image`` and ``modality``, else None."""
    band_mm = card.inference.get("classical_edge_band_mm")
    if band_mm is None or not (fine_enough(image.spacing) and edge_contrast(modality)):
        return None
    return float(band_mm)


def _checked_learned(image: Image, mask: np.ndarray, band_mm: float | None, guard: bool, pool: ThreadPoolExecutor,
                     references: _References | None) -> tuple[np.ndarray, str, list[str]]:
    """The learned ``mask`` (I, J, K) with the classical edge of ``band_mm`` (edge.py) and, with ``guard``, checked,
    or the classical one in its place (``guard.choose_mask``): returns (mask uint8 (I, J, K), method, warnings). An
    already stripped input keeps its foreground and is only checked: the classical method, made for heads, is no
    reference there (it drops most of a stripped T2 brain). The classical mask redraws the edge and is a reference
    for the guard only where it is plausible itself (it misses most of some T1 heads) and agrees with the learned
    one. ``references``: the classical mask and head region already under way, or None to start them here."""
    if not guard and band_mm is None:
        return mask, "learned", []
    stripped = _stripped_brain(image, mask) if guard else None
    if stripped is not None:
        return stripped, "learned", [f"learned mask: {problem}"
                                     for problem in check_mask(image.with_array(stripped), image)]
    references = references or _References.start(pool, image)
    head = references.head.result()
    classical = image.with_array(references.classical.result())
    classical_failed = check_mask(classical, image, head=head)
    differs = None if classical_failed else disagreement(image.with_array(mask), classical)
    if band_mm is not None and not classical_failed and differs is None:
        mask = classical_edge(mask, classical.array, image.spacing, band_mm)
    if not guard:
        return mask, "learned", []
    learned = image.with_array(mask)
    learned_failed = check_mask(learned, image, head=head)
    chosen, method, warnings = choose_mask(learned, classical, {"learned": learned_failed,
                                                                "classical": classical_failed})
    return chosen.array, method, warnings + ([f"learned mask: {differs}"] if differs and method == "learned" else [])


def _may_be_stripped(image: Image) -> bool:
    """False when the voxels that differ from the constant background are more than a brain (a head), True when
    ``_stripped_brain`` must look closer."""
    foreground = foreground_mask(image.array)
    return not (foreground.all() or _volume_ml(foreground, image) > BRAIN_VOLUME_ML[1])


def _volume_ml(mask: np.ndarray, image: Image) -> float:
    return float(mask.sum() * np.prod(image.spacing) / 1000.0)


def _stripped_brain(image: Image, mask: np.ndarray) -> np.ndarray | None:
    """An input that is already skull-stripped keeps all of its brain: when the voxels that differ from the constant
    background are no more than a brain (the guard's largest plausible volume) and the mask covers at least
    ``STRIPPED_COVER`` of them, returns that foreground's largest component with holes filled (uint8 (I, J, K));
    None for a head. Stripped BraTS inputs hold 1000-1700 mL of foreground, 68-90% under the learned mask; raw
    heads 3800-6000 mL, 26-43% under it."""
    if not _may_be_stripped(image):
        return None
    foreground = foreground_mask(image.array)
    if np.logical_and(foreground, mask > 0).sum() < STRIPPED_COVER * foreground.sum():
        return None
    return solid_component(foreground).astype(np.uint8)


def _check(image: Image, modality: str | None, method: str) -> None:
    if method not in METHODS:
        raise InputError(f"Unknown skull-stripping method '{method}' (choose {', '.join(METHODS)})")
    if modality is not None and modality not in SEQUENCES:
        raise InputError(f"Unknown modality '{modality}' for {image.name} (choose one of {', '.join(SEQUENCES)})")
    array = image.array
    if array.ndim != 3 or min(array.shape) < 2:
        raise InputError(f"Skull stripping needs a 3D volume, got shape {array.shape}: {image.name}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"Image holds NaN or infinite voxels: {image.name}")
    if float(array.max()) == float(array.min()):
        raise InputError(f"Image is constant, it holds no anatomy: {image.name}")


def _card(image: Image, modality: str | None, model_id: str | None) -> ModelCard:
    """The registry's skull-stripping card (``model_id`` or the default), checked against ``modality``."""
    card = Registry.load().resolve(TASK, model_id)
    if modality is not None and "any" not in card.inputs and modality not in card.inputs:
        raise ModelError(f"Model '{card.id}' strips {', '.join(card.inputs)} images, not {modality}: {image.name}")
    return card


def _learned(image: Image, card: ModelCard, device: str) -> np.ndarray:
    from ...core.device import select_device
    from ...core.weights import load_model
    from .learned import learned_mask
    from .refine import refinement_card

    torch_device = select_device(device)
    network = load_model(card).to(torch_device)
    refiner_card = refinement_card(card)
    refiner = None if refiner_card is None else load_model(refiner_card).to(torch_device)
    return learned_mask(image, network, card, torch_device, refiner)
