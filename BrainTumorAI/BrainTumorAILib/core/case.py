"""A multi-modal case: find FLAIR / T1 / T1c / T2 in a folder, check they overlap, put them on one grid."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .checks import check_images
from .errors import InputError
from .image import ITK_SUFFIXES, NIFTI_SUFFIXES, NRRD_SUFFIXES, Image, load_image, resample_to
from .vocabulary import REFERENCE_PREFERENCE, SEQUENCES

_BOUNDARY_BEFORE, _BOUNDARY_AFTER = r"(?<![a-z0-9])", r"(?![a-z0-9])"
# Order matters: the first sequence whose pattern matches a name wins, so t1c is tried before t1 and flair
# (t2f) before t2. Patterns only match whole tokens, so "t1" never matches "t1ce" and "t2" never "t2f".
_NAME_PATTERNS = {
    "t1c": r"t1c|t1ce|t1gd|t1[-_ ]?post|post[-_ ]?gad|t1[-_ ]?contrast",
    "flair": r"flair|t2f|fla",
    "t1": r"t1|t1n|t1w",
    "t2": r"t2|t2w",
}
_NOT_AN_IMAGE = r"mask|seg|label|otmulticlass|prediction|truth"  # anywhere in the name


def sequence_of(filename: str) -> str | None:
    """The canonical sequence a file name denotes (``flair``, ``t1``, ``t1c``, ``t2``), or None."""
    name = filename.lower()
    for suffix in NIFTI_SUFFIXES[::-1] + NRRD_SUFFIXES + ITK_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        return None
    if re.search(_NOT_AN_IMAGE, name):
        return None
    for sequence, pattern in _NAME_PATTERNS.items():
        if re.search(_BOUNDARY_BEFORE + f"({pattern})" + _BOUNDARY_AFTER, name):
            return sequence
    return None


def find_sequences(folder: str | os.PathLike) -> dict[str, Path]:
    """Map each sequence found in ``folder`` (not recursive) to its file; raise when a sequence is ambiguous."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Case folder not found: {folder}")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        sequence = sequence_of(path.name) if path.is_file() else None
        if sequence:
            found.setdefault(sequence, []).append(path)
    ambiguous = {sequence: paths for sequence, paths in found.items() if len(paths) > 1}
    if ambiguous:
        detail = "; ".join(f"{seq}: {', '.join(p.name for p in paths)}" for seq, paths in ambiguous.items())
        raise InputError(f"More than one file per sequence in {folder} ({detail}); name them explicitly")
    return {sequence: paths[0] for sequence, paths in found.items()}


@dataclasses.dataclass(frozen=True)
class Case:
    """Images by canonical sequence name, each on its own grid unless ``harmonise`` put them on one."""

    images: Mapping[str, Image]
    name: str = "case"

    def require(self, sequences: Iterable[str], what: str = "this model") -> None:
        missing = [sequence for sequence in sequences if sequence not in self.images]
        if missing:
            have = ", ".join(sorted(self.images)) or "none"
            raise InputError(f"Case '{self.name}' lacks {', '.join(missing)} that {what} needs (found: {have})")

    def reference_sequence(self, preferred: str | None = None) -> str:
        if preferred:
            if preferred not in self.images:
                raise InputError(f"Reference sequence '{preferred}' is not in case '{self.name}'")
            return preferred
        return next(sequence for sequence in REFERENCE_PREFERENCE if sequence in self.images)


def load_case(folder: str | os.PathLike | None = None, paths: Mapping[str, str | os.PathLike | None] | None = None,
              *, name: str | None = None, series: Mapping[str, str] | None = None) -> Case:
    """Load a case from a folder (by file names) and/or explicit ``{sequence: path}``; explicit paths win.

    A folder holding no image files but DICOM files (anywhere below) is read by ``dicom.load_dicom_case``;
    ``series`` ({sequence: SeriesInstanceUID}) chooses its series where the mapping is ambiguous.
    """
    files: dict[str, Path] = dict(find_sequences(folder)) if folder else {}
    for sequence, path in (paths or {}).items():
        if sequence not in SEQUENCES:
            raise InputError(f"Unknown sequence '{sequence}' (expected one of {', '.join(SEQUENCES)})")
        if path is not None:
            files[sequence] = Path(path)
    if not files and folder:
        from .dicom import contains_dicom, load_dicom_case

        if contains_dicom(folder):
            dicom_case = load_dicom_case(folder, choose=series, name=name)
            check_images(dicom_case.images)
            check_overlap(dicom_case)
            return dicom_case
    if series:
        raise InputError(f"--series chooses DICOM series, but {folder or 'the input'} holds image files, not DICOM")
    if not files:
        where = f"in {folder}" if folder else "(no files given)"
        raise InputError(f"No FLAIR, T1, T1c or T2 image found {where}")
    images = {sequence: load_image(path) for sequence, path in files.items()}
    check_images(images)
    case = Case(images, name or (Path(folder).name if folder else next(iter(files.values())).name.split(".")[0]))
    check_overlap(case)
    return case


def check_overlap(case: Case, minimum_fraction: float = 0.5) -> None:
    """Raise InputError when two sequences' fields of view share less than ``minimum_fraction`` of the smaller."""
    boxes = {seq: (img.corners_ras().min(axis=0), img.corners_ras().max(axis=0)) for seq, img in case.images.items()}
    sequences = list(boxes)
    for index, first in enumerate(sequences):
        for second in sequences[index + 1:]:
            (low_a, high_a), (low_b, high_b) = boxes[first], boxes[second]
            overlap = np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0, None).prod()
            smaller = min(np.prod(high_a - low_a), np.prod(high_b - low_b))
            if smaller <= 0 or overlap / smaller < minimum_fraction:
                raise InputError(
                    f"{first} and {second} do not overlap in space ({overlap / max(smaller, 1e-9):.0%} of the smaller "
                    f"field of view is shared): {case.images[first].path} and {case.images[second].path}"
                )


def harmonise(case: Case, reference: str | None = None) -> tuple[Case, str]:
    """Resample every sequence onto the reference sequence's grid (t1c when present, else flair, ...)."""
    reference = case.reference_sequence(reference)
    grid = case.images[reference]
    images = {sequence: resample_to(image, grid) for sequence, image in case.images.items()}
    return Case(images, case.name), reference


def describe(case: Case) -> dict:
    """A JSON-ready summary: file, shape, spacing, orientation and intensity range of each sequence."""
    summary = {}
    for sequence, image in case.images.items():
        values = image.array
        summary[sequence] = {
            "path": str(image.path) if image.path else None,
            "shape": list(image.shape),
            "spacing_mm": [round(s, 4) for s in image.spacing],
            "orientation": image.orientation,
            "dtype": str(values.dtype),
            "intensity": {"min": float(values.min()), "max": float(values.max()),
                          "p01": float(np.percentile(values, 1)), "p99": float(np.percentile(values, 99))},
        }
    return summary
