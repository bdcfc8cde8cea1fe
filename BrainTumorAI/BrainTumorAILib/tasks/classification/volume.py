"""A study's tumour type from 2D slice votes: seed 004's slices, or slices through a segmented tumour, and a rule.

Slices. Without a tumour map: in each of the three views (sagittal, coronal, axial) the middle slice of the head and
the slices 5, 10, 15 and 20 mm to either side (seed 004's 27 slices of 1 mm volumes; thick slices round to the
nearest, and offsets past the head clamp to its last slice, so a 26-slice study works). With a tumour map of at
least ``MIN_TUMOUR_ML``: in each view the slice through the tumour's centre of mass and the slices 5 and 10 mm to
either side, clamped inside the tumour's extent when it is thinner (15 slices). Each slice is rendered as the 2D
training images were: reoriented to RAS, cropped to the head, windowed to the 0.5-99.5th intensity percentile,
displayed in radiological orientation (anterior / superior up, patient right on the image's left) at its physical
aspect, Gaussian-filtered, min-max scaled.

Decision. Each slice votes its most probable class; a class's share is its mean probability over the slices. The
segmentation "found a tumour" when its whole tumour (every non-zero voxel) has at least ``MIN_TUMOUR_ML`` = 1 mL.
The rules, first match wins:

1. A segmentation found a tumour but a majority of the slices vote notumor: ``uncertain`` (the two disagree).
2. Every slice votes notumor: ``notumor`` (never a tumour class without a single tumour vote).
3. notumor's share reaches ``NO_TUMOUR_SHARE`` = 95 % (seed 004's rule): ``notumor``.
4. A segmentation found no tumour: ``notumor`` when a majority of the slices vote notumor, else ``uncertain``
   (a majority of tumour votes with nothing segmented).
5. The tumour class with the most votes (ties broken by share) wins, unless the vote is split: it holds under
   ``SPLIT_TOP_VOTES`` = 60 % of the tumour votes and the runner-up's share is above ``SPLIT_SHARE_RATIO`` = 0.75 of
   its own; then ``uncertain``, naming both.

Without a segmentation only rules 2, 3 and 5 apply, so a minority of tumour votes still names a tumour class (the 27
slices span the head, and most of them miss a small tumour). Every answer carries a one-sentence reason.

Thick slices. A view whose plane crosses voxels thicker than ``THICK_SLICE_MM`` (the sagittal and coronal views of an
axial 5.5 mm study) is reformatted across the study's slices and looks unlike the 2D training images, which are native
acquisitions; such views still vote, and the result carries a warning that says how many of the votes came from them.

Sequence: post-contrast T1 (t1c) first, because the 2D training set (figshare + SARTAJ + Br35H) is mostly
post-contrast T1 slices; then t1, flair, t2 when a case lacks t1c (the result names the one used).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Iterable

import numpy as np
from nibabel.orientations import io_orientation
from scipy import ndimage
from skimage.transform import resize as sk_resize

from ...core.case import Case
from ...core.errors import InputError
from ...core.image import Image, reorient, resample_to
from ...core.preprocess import bounding_box, head_mask, minmax
from .dataset import CLASSES, to_unit_range
from .predict import Classifier

SEQUENCE_PREFERENCE = ("t1c", "t1", "flair", "t2")
OFFSETS_MM = (0, -5, 5, -10, 10, -15, 15, -20, 20)  # around the head's middle
TUMOUR_OFFSETS_MM = (0, -5, 5, -10, 10)  # around the tumour's centre of mass
VIEWS = {"sagittal": 0, "coronal": 1, "axial": 2}
NO_TUMOUR_SHARE = 0.95
MIN_TUMOUR_ML = 1.0  # a segmentation with less whole tumour found none
SPLIT_TOP_VOTES = 0.6  # the leading tumour class's least fraction of the tumour votes for a clear win ...
SPLIT_SHARE_RATIO = 0.75  # ... unless the runner-up's share is at most this fraction of the leader's
UNCERTAIN = "uncertain"
HEAD_MARGIN_MM = 3.0
THICK_SLICE_MM = 3.0  # a view whose plane crosses thicker voxels is a reformat across slices


@dataclasses.dataclass(frozen=True)
class Decision:
    """A study's answer: ``label`` (a class of CLASSES or UNCERTAIN), a one-sentence ``reason``, and the evidence:
    each class's share of the slice probabilities and its number of slice votes."""

    label: str
    reason: str
    shares: dict[str, float]
    vote_counts: dict[str, int]


def choose_sequence(case: Case) -> str:
    """The first of t1c, t1, flair, t2 that the case has."""
    return preferred_sequence(case.images, case.name)


def preferred_sequence(sequences: Iterable[str], case_name: str) -> str:
    """The first of t1c, t1, flair, t2 among ``sequences`` (InputError naming the case when there is none)."""
    present = set(sequences)
    for sequence in SEQUENCE_PREFERENCE:
        if sequence in present:
            return sequence
    raise InputError(f"Case '{case_name}' has none of {', '.join(SEQUENCE_PREFERENCE)} to classify")


def slice_positions(low: int, high: int, spacing: float, centre: int | None = None,
                    offsets: tuple[int, ...] = OFFSETS_MM) -> list[tuple[int, int]]:
    """(offset_mm, index) of the slices ``offsets`` mm from ``centre`` (default: the middle of ``[low, high]``)
    along an axis of ``spacing`` mm, each index clamped to ``[low, high]``."""
    middle = (low + high) // 2 if centre is None else centre
    return [(offset, int(np.clip(middle + round(offset / spacing), low, high))) for offset in offsets]


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


def extent(mask: np.ndarray, axis: int) -> tuple[int, int]:
    """First and last index along ``axis`` where the (I, J, K) ``mask`` holds a True voxel."""
    present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
    return int(present[0]), int(present[-1])


@dataclasses.dataclass(frozen=True)
class FramedVolume:
    """A volume made ready for slicing: ``ras`` the image reoriented to RAS, ``crop`` its box around the head (plus
    HEAD_MARGIN_MM), ``volume`` (I, J, K) the cropped intensities min-max scaled inside the head, ``head`` the
    cropped head mask."""

    ras: Image
    crop: Any
    volume: np.ndarray
    head: np.ndarray

    def on_crop(self, mask: np.ndarray, image: Image) -> np.ndarray:
        """A boolean (I, J, K) mask on ``image``'s grid, reoriented to RAS and cropped like ``volume``."""
        return self.crop.apply(reorient(Image(mask, image.affine), "RAS").array)


def framed_volume(image: Image) -> FramedVolume:
    """Reorient to RAS, find the head, crop to it and scale the intensities (InputError for an empty image)."""
    ras = reorient(image, "RAS")
    mask = head_mask(ras.array)
    if mask.sum() < 64:
        raise InputError(f"No head found to classify (the image is empty or constant): {image.path or 'image'}")
    margin = tuple(int(round(HEAD_MARGIN_MM / s)) for s in ras.spacing)
    crop = bounding_box(mask, margin)
    return FramedVolume(ras, crop, crop.apply(minmax(ras.array, mask)), crop.apply(mask))


def volume_slices(image: Image, size: int, sigma: float, tumour: np.ndarray | None = None
                  ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Rendered slices (N, size, size) of ``image`` and where each comes from (view, offset_mm, RAS index).

    ``tumour``: None for the 27 slices around the head's middle, or a boolean (I, J, K) mask on ``image``'s grid for
    the 15 slices through its centre of mass (see the module docstring).
    """
    framed = framed_volume(image)
    around, offsets = framed.head, OFFSETS_MM
    centre: list[int | None] = [None, None, None]
    if tumour is not None:
        around, offsets = framed.on_crop(tumour, image), TUMOUR_OFFSETS_MM
        if not around.any():
            raise InputError(f"The tumour map has no voxel inside the head of {image.path or 'image'}")
        centre = [int(round(c)) for c in np.argwhere(around).mean(axis=0)]
    return slices_at(framed, {view: slice_positions(*extent(around, axis), framed.ras.spacing[axis], centre[axis],
                                                      offsets) for view, axis in VIEWS.items()}, size, sigma)


def slices_at(framed: FramedVolume, positions: dict[str, list[tuple[int, int]]], size: int, sigma: float
              ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Rendered slices (N, size, size) at {view: [(offset_mm, cropped index)]} and where each comes from."""
    slices, where = [], []
    for view, places in positions.items():
        axis = VIEWS[view]
        for offset, index in places:
            slices.append(render_slice(framed.volume, framed.ras.spacing, axis, index, size, sigma))
            where.append({"view": view, "offset_mm": offset, "index_ras": index + framed.crop.start[axis]})
    return np.stack(slices), where


def reformatted_views(image: Image) -> dict[str, float]:
    """{view: the thickest voxel its plane crosses, mm} for the views whose plane crosses voxels thicker than
    THICK_SLICE_MM, whatever the image's axis order (the views are those of the image reoriented to RAS)."""
    spacing = np.empty(3)
    spacing[io_orientation(image.affine)[:, 0].astype(int)] = image.spacing
    crossed = {view: max(spacing[a] for a in range(3) if a != axis) for view, axis in VIEWS.items()}
    return {view: float(mm) for view, mm in crossed.items() if mm > THICK_SLICE_MM}


def decide(probabilities: np.ndarray, tumour_ml: float | None = None) -> Decision:
    """The study's answer from (N, 4) slice probabilities (CLASSES order) and the segmented whole-tumour volume in
    mL (None: no segmentation), by the rules of the module docstring; ValueError when there are no slices."""
    if len(probabilities) == 0:
        raise ValueError("No slice probabilities to decide on")
    mean = dict(zip(CLASSES, probabilities.mean(axis=0).tolist()))
    votes = np.bincount(probabilities.argmax(axis=1), minlength=len(CLASSES))
    counts = {name: int(count) for name, count in zip(CLASSES, votes)}
    total, healthy = len(probabilities), counts["notumor"]
    tumour_votes, mostly_healthy = total - healthy, 2 * healthy > total

    def answer(label: str, reason: str) -> Decision:
        return Decision(label, reason, {name: round(share, 4) for name, share in mean.items()}, counts)

    segmented = tumour_ml is not None and tumour_ml >= MIN_TUMOUR_ML
    if segmented and mostly_healthy:
        return answer(UNCERTAIN, f"the segmentation found a {tumour_ml:.1f} mL tumour but {healthy} of {total} "
                                 "slices voted notumor")
    if healthy == total:
        return answer("notumor", f"all {total} slices voted notumor")
    if mean["notumor"] >= NO_TUMOUR_SHARE:
        return answer("notumor", f"notumor has {mean['notumor']:.0%} of the slice probabilities "
                                 f"(at least {NO_TUMOUR_SHARE:.0%})")
    if tumour_ml is not None and not segmented:
        empty = f"the segmentation found no tumour ({tumour_ml:.2f} mL < {MIN_TUMOUR_ML:g} mL)"
        if mostly_healthy:
            return answer("notumor", f"{empty} and {healthy} of {total} slices voted notumor")
        return answer(UNCERTAIN, f"{tumour_votes} of {total} slices voted a tumour class but {empty}")
    ranked = sorted((name for name in CLASSES if name != "notumor"), key=lambda name: (counts[name], mean[name]))
    first, second = ranked[-1], ranked[-2]
    if counts[first] < SPLIT_TOP_VOTES * tumour_votes and mean[second] > SPLIT_SHARE_RATIO * mean[first]:
        return answer(UNCERTAIN, f"the {tumour_votes} tumour votes split between {first} ({counts[first]} votes, "
                                 f"share {mean[first]:.0%}) and {second} ({counts[second]} votes, share "
                                 f"{mean[second]:.0%})")
    reason = f"{first} has {counts[first]} of the {tumour_votes} tumour votes ({total} slices)"
    if mostly_healthy:
        reason += f"; notumor has {healthy} votes but a share of {mean['notumor']:.0%} < {NO_TUMOUR_SHARE:.0%}"
    return answer(first, reason)


def classify_volume(image: Image, classifier: Classifier, tumour: Image | None = None,
                    with_slices: bool = False) -> dict[str, Any]:
    """Classify one volume; JSON-ready result with the decision, its evidence, each slice's vote by view and
    "warnings" (views reformatted across thick slices).

    ``tumour``: a class map on ``image``'s grid (non-zero = tumour), or None. Slices go through the tumour when it
    holds at least MIN_TUMOUR_ML, else around the head's middle. ``with_slices``: add "slice_images", the (N, S, S)
    slices as the network saw them (standardised), in the order of the votes (not JSON).
    """
    started = time.perf_counter()
    tumour_ml = None
    if tumour is not None:
        tumour_ml = round(float(np.count_nonzero(tumour.array) * np.prod(tumour.spacing) / 1000.0), 3)
    through_tumour = tumour_ml is not None and tumour_ml >= MIN_TUMOUR_ML
    sigma = float(classifier.card.inference.get("gaussian_sigma", 0.5))
    slices, where = volume_slices(image, classifier.image_size, sigma,
                                  tumour.array != 0 if through_tumour else None)
    rendered = time.perf_counter()
    prepared = classifier.prepare(slices)
    probabilities = classifier.probabilities(prepared, prepared=True)
    decision = decide(probabilities, tumour_ml)
    votes: dict[str, list[dict[str, Any]]] = {view: [] for view in VIEWS}
    for place, row in zip(where, probabilities):
        votes[place["view"]].append({"offset_mm": place["offset_mm"], "index_ras": place["index_ras"],
                                     "label": CLASSES[int(row.argmax())],
                                     "p": {name: round(float(p), 4) for name, p in zip(CLASSES, row)}})
    thick = reformatted_views(image)
    warnings = [f"the {' and '.join(thick)} slices are reformatted across {max(thick.values()):.1f} mm slices, "
                f"unlike the 2D training images (native acquisitions): {sum(len(votes[view]) for view in thick)} of "
                f"the {len(slices)} votes come from them"] if thick else []
    return {"label": decision.label, "reason": decision.reason, "shares": decision.shares,
            "vote_counts": decision.vote_counts, "votes": votes, "slices": len(slices), "warnings": warnings,
            "slices_through": "tumour" if through_tumour else "head", "tumour_volume_ml": tumour_ml,
            "timing_s": {"slices": round(rendered - started, 3),
                         "classify": round(time.perf_counter() - rendered, 3)},
            **({"slice_images": prepared} if with_slices else {})}


def classify_case(case: Case, *, model_id: str | None = None, device: str = "auto", tumour: Image | None = None,
                  with_slices: bool = False) -> dict[str, Any]:
    """Classify a case's tumour type from slices of its first sequence of t1c, t1, flair, t2 (module docstring).

    ``tumour``: a tumour class map (non-zero = tumour), such as a segmentation's ``classes``; resampled onto the
    sequence's grid when it lies on another. Returns {"label" (a class or "uncertain"), "reason", "shares"
    {class: fraction}, "vote_counts" {class: slices}, "votes" {view: [slice votes]}, "slices", "slices_through"
    ("tumour" or "head"), "tumour_volume_ml" (None without a tumour map), "sequence", "model" {id, version},
    "timing_s", "warnings" [views reformatted across thick slices]} and, with ``with_slices``, "slice_images" (see
    ``classify_volume``).
    """
    sequence = choose_sequence(case)
    image = case.images[sequence]
    if tumour is not None:
        tumour = resample_to(tumour, image, label=True)
    classifier = Classifier.load(model_id, device)
    result = classify_volume(image, classifier, tumour, with_slices)
    result["sequence"] = sequence
    result["model"] = {"id": classifier.card.id, "version": classifier.card.version}
    return result
