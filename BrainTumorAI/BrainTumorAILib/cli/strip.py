"""``braintumorai strip --image F [--modality SEQ] --mask M [--brain B] [--method learned|classical]``.

The failed plausibility checks of the mask, and a fallback from the learned to the classical mask, are printed on
stderr as warnings; the exit status stays 0 and the JSON's ``method`` names the mask written."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..core.image import load_image, save_image
from ..core.vocabulary import DEVICE_CHOICES, SEQUENCES
from ..tasks.stripping import METHODS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("strip", help="skull-strip one MRI volume: brain mask (and brain) on its grid")
    parser.add_argument("--image", required=True, help="input volume (.nii, .nii.gz or .nrrd), with or without skull")
    parser.add_argument("--modality", choices=SEQUENCES, help="its sequence (checked against the model's inputs)")
    parser.add_argument("--mask", required=True, help="output brain mask (uint8 0/1 on the input grid)")
    parser.add_argument("--brain", help="optional output: the input's voxels inside the mask, 0 outside")
    parser.add_argument("--method", choices=METHODS, default="learned")
    parser.add_argument("--model", dest="model_id", help="skull-stripping model id (default: the registry's default)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from ..tasks.stripping import strip_skull

    started = time.perf_counter()
    image = load_image(arguments.image)
    result = strip_skull(image, modality=arguments.modality, method=arguments.method, model_id=arguments.model_id,
                         device=arguments.device)
    for warning in result.warnings:
        print(f"braintumorai: warning: {warning}", file=sys.stderr)
    save_image(result.mask, arguments.mask, dtype="uint8")
    outputs = {"mask": arguments.mask}
    if arguments.brain:
        save_image(result.brain, arguments.brain)
        outputs["brain"] = arguments.brain
    voxel_ml = float(abs(np.linalg.det(image.affine[:3, :3]))) / 1000.0
    print(json.dumps({
        "method": result.method, "model": result.card.id if result.card else None, **outputs,
        "brain_ml": round(float(result.mask.array.sum()) * voxel_ml, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }))
    return 0
