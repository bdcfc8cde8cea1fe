"""Score folders of predicted label maps against ground truth, paired by case name (BraTS metrics per region).

A case is either a file directly in the folder (``BraTS-GLI-00001-000-seg.nii.gz`` -> ``BraTS-GLI-00001-000``:
the extension and a trailing seg / label / labels / pred / prediction / truth token are dropped) or a sub-folder
holding exactly one label map (``brats_2013_pat0003_1/OTMultiClass.nii.gz`` -> ``brats_2013_pat0003_1``: a file
named seg / label / OTMultiClass / truth / pred / gt, or the folder's only image); other folders are skipped.

Each case gets the project's Dice and HD95 (COLUMNS) and, after them, the BraTS challenge's own figures
(brats_official.COLUMNS: lesion-wise Dice and HD95, pooled whole-region HD95, lesion counts).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import NIFTI_SUFFIXES, NRRD_SUFFIXES, load_image, resample_to
from BrainTumorAILib.core.labels import REGIONS, from_convention
from BrainTumorAILib.tasks.segmentation.metrics import score_regions

from . import brats_official

_SUFFIXES = tuple(sorted(NIFTI_SUFFIXES + NRRD_SUFFIXES, key=len, reverse=True))
_TRAILING_TOKEN = re.compile(r"[-_.](seg|segmentation|label|labels|pred|prediction|truth|gt)$", re.IGNORECASE)
_LABEL_NAME = re.compile(r"seg|label|otmulticlass|truth|pred|gt", re.IGNORECASE)
COLUMNS = ("case", *(f"{region}_dice" for region in REGIONS), *(f"{region}_hd95" for region in REGIONS))


def case_name(filename: str) -> str | None:
    """The case a label-map file name denotes, or None when it is not an image file."""
    lower = filename.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return _TRAILING_TOKEN.sub("", filename[: -len(suffix)])
    return None


def find_label_maps(folder: str | os.PathLike) -> dict[str, Path]:
    """{case name: label map} of ``folder``: image files in it, and sub-folders holding one label map."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Label folder not found: {folder}")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and case_name(entry.name):
            found[case_name(entry.name)] = entry  # type: ignore[index]
        elif entry.is_dir():
            images = [path for path in sorted(entry.iterdir()) if path.is_file() and case_name(path.name)]
            labelled = [path for path in images if _LABEL_NAME.search(path.name)]
            labelled = labelled or (images if len(images) == 1 else [])
            if len(labelled) == 1:
                found[entry.name] = labelled[0]
            elif len(labelled) > 1:
                raise InputError(f"More than one label map in {entry} ({', '.join(p.name for p in labelled)})")
    return found


def score_case(prediction_path: Path, truth_path: Path, prediction_labels: str, truth_labels: str
               ) -> dict[str, float]:
    """COLUMNS and brats_official.COLUMNS of one prediction file against one truth file (the prediction is
    resampled, nearest neighbour, onto the truth's grid when the grids differ)."""
    truth = load_image(truth_path, label=True)
    prediction = load_image(prediction_path, label=True)
    if not prediction.same_grid(truth):
        print(f"note: {prediction_path.name} is not on the grid of {truth_path.name}; resampled onto it",
              file=sys.stderr)
        prediction = resample_to(prediction, truth, label=True)
    predicted = _classes(prediction.array, prediction_labels, prediction_path)
    true = _classes(truth.array, truth_labels, truth_path)
    scores = score_regions(predicted, true, truth.spacing)
    return {**{f"{region}_{metric}": value for region, metric_values in scores.items()
               for metric, value in metric_values.items()},
            **brats_official.columns(brats_official.score_regions(predicted, true, truth.spacing))}


def evaluate_folders(predictions: str | os.PathLike, truths: str | os.PathLike, *,
                     prediction_labels: str = "brats2021", truth_labels: str = "brats2021"
                     ) -> tuple[list[dict[str, object]], list[str]]:
    """(one row per paired case with COLUMNS and brats_official.COLUMNS, names of the cases found on one side
    only)."""
    predicted, true = find_label_maps(predictions), find_label_maps(truths)
    paired = sorted(set(predicted) & set(true))
    if not paired:
        raise InputError(f"No case is in both {predictions} ({', '.join(predicted) or 'none'}) and {truths} "
                         f"({', '.join(true) or 'none'})")
    rows = [{"case": name, **score_case(predicted[name], true[name], prediction_labels, truth_labels)}
            for name in paired]
    unpaired = sorted(set(predicted) ^ set(true))
    return rows, unpaired


def mean_row(rows: list[dict[str, object]]) -> dict[str, object]:
    """The column means of ``rows`` as a row named "mean" (the official figures' over the cases where they are not
    NaN, as the challenge's summary takes them)."""
    official = [column for column in brats_official.COLUMNS if column in rows[0]]
    return {"case": "mean", **{column: float(np.mean([row[column] for row in rows])) for column in COLUMNS[1:]},
            **{column: brats_official.mean([row[column] for row in rows]) for column in official}}


def _classes(labels: np.ndarray, convention: str, path: Path) -> np.ndarray:
    try:
        return from_convention(labels, convention)
    except InputError as error:
        raise InputError(f"{error}: {path} (choose the file's convention with --labels / --truth-labels)") from error
