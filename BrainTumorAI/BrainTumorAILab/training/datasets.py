"""Labelled cases in BraTS-style folders, found by their file names.

Three naming schemes are known (the image sequences are recognised by ``case.sequence_of``):

- deepmedic / BraTS 2013: ``Flair_subtrMeanDivStd``, ``T1c_subtrMeanDivStd``, ... with ``OTMultiClass`` labels
  (0 bg, 1 necrosis, 2 edema, 3 non-enhancing, 4 enhancing);
- BraTS 2020: ``*_flair``, ``*_t1``, ``*_t1ce``, ``*_t2`` with ``*_seg`` labels (1 / 2 / 4);
- BraTS 2023: ``*-t2f``, ``*-t1n``, ``*-t1c``, ``*-t2w`` with ``*-seg`` labels (1 / 2 / 3).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from BrainTumorAILib.core.case import find_sequences
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, load_image
from BrainTumorAILib.core.labels import from_convention

# label file name pattern -> label convention, tried in order
LABEL_SCHEMES = (
    (re.compile(r"^otmulticlass\.(nii|nii\.gz|nrrd)$", re.IGNORECASE), "brats2013"),
    (re.compile(r"_seg\.(nii|nii\.gz)$", re.IGNORECASE), "brats2021"),
    (re.compile(r"-seg\.(nii|nii\.gz)$", re.IGNORECASE), "brats2023"),
)


@dataclasses.dataclass(frozen=True)
class LabelledCase:
    """One training case: image files by sequence, the label file and the label convention it uses."""

    name: str
    images: dict[str, Path]
    labels: Path
    convention: str

    def load(self, sequences: Sequence[str], optional: Sequence[str] = ()) -> tuple[dict[str, Image], np.ndarray]:
        """The ``sequences``' images (those of ``optional`` only when the case has them) and the class map
        (I, J, K) uint8 (0..3) on their common grid."""
        missing = [sequence for sequence in sequences if sequence not in self.images and sequence not in optional]
        if missing:
            raise InputError(f"Training case {self.name} lacks {', '.join(missing)} (found: "
                             f"{', '.join(sorted(self.images))}) in {self.labels.parent}")
        images = {sequence: load_image(self.images[sequence]) for sequence in sequences if sequence in self.images}
        label_image = load_image(self.labels, label=True)
        for sequence, image in images.items():
            if not image.same_grid(label_image):
                raise InputError(f"{image.path} is not on the grid of its labels {self.labels}")
        try:
            classes = from_convention(label_image.array, self.convention)
        except InputError as error:
            raise InputError(f"{error}: {self.labels}") from error
        return images, classes


def label_convention(filename: str) -> str | None:
    """The label convention a label file's name implies, or None when it is not a label file."""
    for pattern, convention in LABEL_SCHEMES:
        if pattern.search(filename):
            return convention
    return None


def discover(root: str | os.PathLike) -> list[LabelledCase]:
    """Every folder under ``root`` (itself included) holding one label file and images, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"Training data folder not found: {root}")
    cases = []
    for folder in sorted({root, *(path for path in root.rglob("*") if path.is_dir())}):
        labels = [(path, label_convention(path.name)) for path in sorted(folder.iterdir()) if path.is_file()]
        labels = [(path, convention) for path, convention in labels if convention]
        if not labels:
            continue
        if len(labels) > 1:
            raise InputError(f"More than one label file in {folder}: {', '.join(p.name for p, _ in labels)}")
        images = find_sequences(folder)
        if images:
            cases.append(LabelledCase(folder.name, images, labels[0][0], labels[0][1]))
    if not cases:
        raise InputError(f"No labelled cases (OTMultiClass, *_seg or *-seg next to FLAIR / T1c images) under {root}")
    return cases


def select(cases: list[LabelledCase], names: Sequence[str]) -> list[LabelledCase]:
    """The cases called ``names``; raise InputError naming any that is not there."""
    known = {case.name: case for case in cases}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(f"Unknown validation case(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[name] for name in names]
