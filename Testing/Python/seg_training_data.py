"""Test helper: phantom cases written as BraTS-style training folders in each naming scheme."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from BrainTumorAILib.core.phantom import make_phantom

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "BrainTumorAI" / "Resources" / "Configs" / "segmentation"
# scheme -> (file name of each sequence and of the labels for a case called NAME, label values of NCR/ED/ET)
SCHEMES = {
    "brats2013": ({"flair": "Flair_subtrMeanDivStd.nii.gz", "t1c": "T1c_subtrMeanDivStd.nii.gz",
                   "labels": "OTMultiClass.nii.gz"}, (1, 2, 4)),
    "brats2020": ({"flair": "NAME_flair.nii.gz", "t1c": "NAME_t1ce.nii.gz", "t1": "NAME_t1.nii.gz",
                   "labels": "NAME_seg.nii.gz"}, (1, 2, 4)),
    "brats2023": ({"flair": "NAME-t2f.nii.gz", "t1c": "NAME-t1c.nii.gz", "t2": "NAME-t2w.nii.gz",
                   "labels": "NAME-seg.nii.gz"}, (1, 2, 3)),
}


def write_case(folder: Path, scheme: str, images: dict[str, np.ndarray], classes: np.ndarray,
               affine: np.ndarray) -> Path:
    """Write ``images`` (by sequence) and the class map ``classes`` under ``folder`` in ``scheme``'s names."""
    names, label_values = SCHEMES[scheme]
    folder.mkdir(parents=True, exist_ok=True)
    for sequence, array in images.items():
        if sequence in names:
            path = folder / names[sequence].replace("NAME", folder.name)
            nib.save(nib.Nifti1Image(array.astype(np.float32), affine), path)
    labels = np.array((0, *label_values), dtype=np.uint8)[classes]
    nib.save(nib.Nifti1Image(labels, affine), folder / names["labels"].replace("NAME", folder.name))
    return folder


def write_phantoms(root: Path, seeds: list[int], scheme: str = "brats2023") -> list[str]:
    """Small phantoms (48 x 48 x 40 voxels of 4 mm) as training cases ``phantom<seed>``; returns their names."""
    names = []
    for seed in seeds:
        phantom = make_phantom(seed, shape=(48, 48, 40), spacing=(4.0, 4.0, 4.0))
        images = {name: image.array for name, image in phantom.images.items()}
        write_case(root / f"phantom{seed}", scheme, images, phantom.labels.array, phantom.labels.affine)
        names.append(f"phantom{seed}")
    return names


def tiny_config(tmp: Path, **schedule) -> Path:
    """The tiny config with ``schedule`` fields replaced, written to ``tmp``."""
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["schedule"].update(schedule)
    path = tmp / "tiny.json"
    path.write_text(json.dumps(config))
    return path

