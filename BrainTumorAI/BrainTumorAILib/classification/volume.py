"""Seed 004's volume rule: classify 27 slices of a 3D study with the 2D classifier and sum their predictions.

In each of the three views (sagittal, coronal, axial) take the middle slice of the head and the slices 5, 10, 15
and 20 mm to either side (the seed's slices of 1 mm volumes; thick slices round to the nearest, and offsets past the
head clamp to its last slice, so a 26-slice study works). Each slice is rendered as the 2D training images were:
reoriented to RAS, cropped to the head, windowed to the 0.5-99.5th intensity percentile, displayed in radiological
orientation (anterior / superior up, patient right on the image's left) at its physical aspect, Gaussian-filtered,
min-max scaled. The study is "notumor" when that class's share of the summed probabilities reaches 95 %, otherwise
the tumour class with the highest share.

Sequence: post-contrast T1 (t1c) first, because the 2D training set (figshare + SARTAJ + Br35H) is mostly
post-contrast T1 slices; then t1, flair, t2 when a case lacks t1c (the result names the one used).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.transform import resize as sk_resize

from ..case import Case
from ..errors import InputError
from ..image import Image, reorient
from ..preprocess import bounding_box, head_mask, minmax
from .dataset import CLASSES, to_unit_range
from .predict import Classifier

SEQUENCE_PREFERENCE = ("t1c", "t1", "flair", "t2")
OFFSETS_MM = (0, -5, 5, -10, 10, -15, 15, -20, 20)
VIEWS = {"sagittal": 0, "coronal": 1, "axial": 2}
NO_TUMOUR_SHARE = 0.95
HEAD_MARGIN_MM = 3.0


def choose_sequence(case: Case) -> str:
    """The first of t1c, t1, flair, t2 that the case has."""
    for sequence in SEQUENCE_PREFERENCE:
        if sequence in case.images:
            return sequence
    raise InputError(f"Case '{case.name}' has none of {', '.join(SEQUENCE_PREFERENCE)} to classify")


def slice_positions(low: int, high: int, spacing: float) -> list[tuple[int, int]]:
    """(offset_mm, index) of the 9 slices around the middle of ``[low, high]`` along an axis of ``spacing`` mm."""
    middle = (low + high) // 2
    return [(offset, int(np.clip(middle + round(offset / spacing), low, high))) for offset in OFFSETS_MM]


def render_slice(volume: np.ndarray, spacing: tuple[float, float, float], axis: int, index: int, size: int,
                 sigma: float) -> np.ndarray:
    """One slice of a RAS volume (I, J, K) in [0, 1] as a (size, size) image in [0, 1], square, aspect kept.

    The plane's two remaining RAS axes (u, v) are flipped and transposed so rows run superior/anterior -> inferior/
    posterior and columns patient right -> left.
    """
    plane = np.take(volume, index, axis=axis)
    in_plane = [spacing[a] for a in range(3) if a != axis]
    image = plane[::-1, ::-1].T
    row_mm, column_mm = in_plane[1], in_plane[0]
    height_mm, width_mm = image.shape[0] * row_mm, image.shape[1] * column_mm
    scale = size / max(height_mm, width_mm)
    shape = (max(1, round(height_mm * scale)), max(1, round(width_mm * scale)))
    scaled = sk_resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    square = np.zeros((size, size), dtype=np.float32)
    top, left = (size - shape[0]) // 2, (size - shape[1]) // 2
    square[top:top + shape[0], left:left + shape[1]] = scaled
    if sigma > 0:
        square = ndimage.gaussian_filter(square, sigma)
    return to_unit_range(square)


def volume_slices(image: Image, size: int, sigma: float) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The 27 rendered slices (27, size, size) of ``image`` and where each comes from (view, offset, RAS index)."""
    ras = reorient(image, "RAS")
    mask = head_mask(ras.array)
    if mask.sum() < 64:
        raise InputError(f"No head found to classify (the image is empty or constant): {image.path or 'image'}")
    margin = tuple(int(round(HEAD_MARGIN_MM / s)) for s in ras.spacing)
    crop = bounding_box(mask, margin)
    volume = crop.apply(minmax(ras.array, mask))
    slices, where = [], []
    for view, axis in VIEWS.items():
        present = np.flatnonzero(crop.apply(mask).any(axis=tuple(a for a in range(3) if a != axis)))
        for offset, index in slice_positions(int(present[0]), int(present[-1]), ras.spacing[axis]):
            slices.append(render_slice(volume, ras.spacing, axis, index, size, sigma))
            where.append({"view": view, "offset_mm": offset, "index_ras": index + crop.start[axis]})
    return np.stack(slices), where


def decide(probabilities: np.ndarray) -> tuple[str, dict[str, float]]:
    """(N, 4) slice probabilities -> (label, share of each class in the summed probabilities)."""
    shares = probabilities.sum(0) / max(len(probabilities), 1)
    by_class = {name: round(float(share), 4) for name, share in zip(CLASSES, shares)}
    if shares[CLASSES.index("notumor")] >= NO_TUMOUR_SHARE:
        return "notumor", by_class
    tumour = [i for i, name in enumerate(CLASSES) if name != "notumor"]
    return CLASSES[max(tumour, key=lambda i: shares[i])], by_class


def classify_volume(image: Image, classifier: Classifier) -> dict[str, Any]:
    """Apply the 27-slice rule to one volume; JSON-ready result with shares and each slice's vote by view."""
    started = time.perf_counter()
    sigma = float(classifier.card.inference.get("gaussian_sigma", 0.5))
    slices, where = volume_slices(image, classifier.image_size, sigma)
    rendered = time.perf_counter()
    probabilities = classifier.probabilities(slices)
    label, shares = decide(probabilities)
    votes: dict[str, list[dict[str, Any]]] = {view: [] for view in VIEWS}
    for place, row in zip(where, probabilities):
        votes[place["view"]].append({"offset_mm": place["offset_mm"], "index_ras": place["index_ras"],
                                     "label": CLASSES[int(row.argmax())],
                                     "p": {name: round(float(p), 4) for name, p in zip(CLASSES, row)}})
    counts = {name: sum(vote["label"] == name for view in votes.values() for vote in view) for name in CLASSES}
    return {"label": label, "shares": shares, "vote_counts": counts, "votes": votes, "slices": len(slices),
            "timing_s": {"slices": round(rendered - started, 3),
                         "classify": round(time.perf_counter() - rendered, 3)}}


def classify_case(case: Case, *, model_id: str | None = None, device: str = "auto") -> dict[str, Any]:
    """Classify a case's tumour type with the 27-slice rule on its post-contrast T1 (see the module docstring).

    Returns {"label", "shares" {class: fraction}, "vote_counts", "votes" {view: [slice votes]}, "sequence",
    "model" {id, version}, "slices", "timing_s"}.
    """
    sequence = choose_sequence(case)
    classifier = Classifier.load(model_id, device)
    result = classify_volume(case.images[sequence], classifier)
    result["sequence"] = sequence
    result["model"] = {"id": classifier.card.id, "version": classifier.card.version}
    return result
