"""Registered classifiers' study answers, as deployed, on 3D studies whose type is known.

Two ways a study is classified: ``head`` as ``braintumorai classify --slices head`` does (27 slices around the head's
middle of the unstripped image), and ``tumour`` as ``braintumorai run`` does after stripping and segmenting, with
the labelled tumour standing in for the segmentation (labelled glioma cases) or the brain alone and an empty tumour
map (healthy heads: a segmentation that finds nothing). Unlabelled glioma folders get the ``head`` way only.

With ``--thick-mm MM`` every study is also classified as a thick-slice series of the same head (slab means of MM along
its superior axis on a grid that thick, ``robustness.thick_grid``; its tumour map carried over), as the way's name
with ``-thick``: the sagittal and coronal views are then reformatted across the slabs, as in a clinical study.

Usage: ``python -m BrainTumorAILab.classification.studies --models ID [ID ...] [--tumour-cases DIR ...]
[--glioma-cases DIR ...] [--heads DIR ...] [--thick-mm MM]`` prints one JSON line per model, study and way (with the
votes by view and the warnings), then a summary line per model: right answers out of the studies, per way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from BrainTumorAILib.core.case import load_case
from BrainTumorAILib.core.image import Image, resample_to
from BrainTumorAILib.tasks.classification.predict import Classifier
from BrainTumorAILib.tasks.classification.volume import classify_volume, preferred_sequence
from ..training.datasets import discover
from ..training.robustness import thick_grid
from .study_slices import load_head


def studies(tumour_cases: Sequence[str], glioma_cases: Sequence[str], heads: Sequence[str]
            ) -> Iterator[tuple[str, str, str, Image, Image | None]]:
    """(study, expected label, way, image, tumour map or None) for every study and way."""
    for root in tumour_cases:
        for case in discover(root):
            sequence = preferred_sequence(case.images, case.name)
            images, classes = case.load([sequence])
            image = images[sequence]
            yield case.name, "glioma", "head", image, None
            yield case.name, "glioma", "tumour", image, image.with_array(classes)
    for folder in glioma_cases:
        case = load_case(folder)
        sequence = preferred_sequence(case.images, case.name)
        yield case.name, "glioma", "head", case.images[sequence], None
    for folder in map(Path, heads):
        image, mask = load_head(folder)
        brain = mask.array > 0
        yield folder.name, "notumor", "head", image, None
        stripped = image.with_array(np.where(brain, image.array, 0).astype(np.float32))
        yield folder.name, "notumor", "tumour", stripped, image.with_array(np.zeros(brain.shape, np.uint8))


def with_thick_copies(found: Iterator[tuple[str, str, str, Image, Image | None]], thickness_mm: float | None
                      ) -> Iterator[tuple[str, str, str, Image, Image | None]]:
    """``found`` (``studies``), each followed by its thick-slice copy (way ``WAY-thick``) when ``thickness_mm``."""
    for name, expected, way, image, tumour in found:
        yield name, expected, way, image, tumour
        if thickness_mm:
            thick = thick_grid(image, thickness_mm)
            yield name, expected, f"{way}-thick", thick, None if tumour is None else resample_to(tumour, thick,
                                                                                                  label=True)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.classification.studies",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="registered classifier ids")
    parser.add_argument("--tumour-cases", nargs="*", default=[], help="folders of labelled glioma cases")
    parser.add_argument("--glioma-cases", nargs="*", default=[], help="unlabelled glioma case folders")
    parser.add_argument("--heads", nargs="*", default=[], help="healthy head folders (*_T1w, *_brainmask)")
    parser.add_argument("--thick-mm", type=float, help="also classify each study as slabs this thick")
    arguments = parser.parse_args(argv)
    for model in arguments.models:
        classifier = Classifier.load(model, "cpu")
        right: dict[str, list[int]] = {}
        for name, expected, way, image, tumour in with_thick_copies(
                studies(arguments.tumour_cases, arguments.glioma_cases, arguments.heads), arguments.thick_mm):
            result: dict[str, Any] = classify_volume(image, classifier, tumour)
            right.setdefault(way, [0, 0])
            right[way][0] += result["label"] == expected
            right[way][1] += 1
            votes = {view: [vote["label"] for vote in rows] for view, rows in result["votes"].items()}
            print(json.dumps({"model": model, "study": name, "way": way, "expected": expected,
                              "label": result["label"], "vote_counts": result["vote_counts"], "votes": votes,
                              "reason": result["reason"], "warnings": result["warnings"]}), flush=True)
        print(json.dumps({"model": model, "right": {way: f"{r}/{n}" for way, (r, n) in right.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
