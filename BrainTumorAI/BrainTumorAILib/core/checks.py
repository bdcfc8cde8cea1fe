"""Sense checks on a case's inputs before any work: each failure is an InputError naming the problem and the file.

- an image that looks like a label map (a handful of integer values) given as an MRI sequence;
- one file, or identical voxels on one grid, under two sequence names;
- a voxel size that no brain MRI has (under ``MIN_SPACING_MM`` or over ``MAX_SPACING_MM``).

Images of more than one frame (4D) are refused by ``image.load_image`` already; series whose contrasts read as
swapped are refused once they share a grid (``contrasts.check_contrasts``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .errors import InputError
from .image import Image

MIN_SPACING_MM, MAX_SPACING_MM = 0.2, 10.0
LABEL_MAP_MAX_VALUES = 8  # a tumour or tissue label map has a handful; an MRI has hundreds at the least
_SAMPLE = 200_000  # voxels looked at to decide cheaply that an image is not a label map


def check_images(images: Mapping[str, Image]) -> None:
    """Raise InputError for the first implausible input of ``images`` ({sequence: image})."""
    for sequence, image in images.items():
        _check_spacing(sequence, image)
        _check_not_label_map(sequence, image)
    _check_distinct(images)


def source_of(image: Image) -> str:
    """The file an image came from, for messages."""
    return str(image.path) if image.path else image.name


def _check_spacing(sequence: str, image: Image) -> None:
    spacing = image.spacing
    if min(spacing) < MIN_SPACING_MM or max(spacing) > MAX_SPACING_MM:
        shown = " x ".join(f"{s:.3g}" for s in spacing)
        raise InputError(f"{sequence} has voxels of {shown} mm, outside the {MIN_SPACING_MM}-{MAX_SPACING_MM:g} mm "
                         f"of brain MRI (a wrong header?): {source_of(image)}")


def _check_not_label_map(sequence: str, image: Image) -> None:
    array = image.array
    flat = array.reshape(-1)
    sample = flat[:: max(1, flat.size // _SAMPLE)]
    if not np.all(np.equal(np.mod(sample, 1), 0)) or len(np.unique(sample)) > LABEL_MAP_MAX_VALUES:
        return
    values = np.unique(array)
    if len(values) <= LABEL_MAP_MAX_VALUES and np.all(np.equal(np.mod(values, 1), 0)):
        shown = ", ".join(f"{v:g}" for v in values)
        raise InputError(f"{sequence} looks like a label map or mask, not an MRI image (it holds only the values "
                         f"{shown}): {source_of(image)}")


def _check_distinct(images: Mapping[str, Image]) -> None:
    seen: list[tuple[str, Image]] = []
    for sequence, image in images.items():
        for other_sequence, other in seen:
            same_file = image.path is not None and other.path is not None and \
                image.path.resolve() == other.path.resolve()
            if same_file or (image.same_grid(other) and np.array_equal(image.array, other.array)):
                what = "the same file" if same_file else "identical voxels"
                raise InputError(f"{other_sequence} and {sequence} are {what} ({source_of(other)} and "
                                 f"{source_of(image)}); each sequence needs its own image")
        seen.append((sequence, image))
