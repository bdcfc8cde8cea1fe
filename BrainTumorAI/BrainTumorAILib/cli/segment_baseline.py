"""``braintumorai segment-baseline (--case DIR | --flair F --t1c F) -o OUT.nii.gz``: the threshold baseline's
label map on the reference input's grid (score it with ``braintumorai evaluate``)."""

from __future__ import annotations

import argparse
import json

from ..core.case import harmonise, load_case
from ..core.image import Image, save_image
from ..core.labels import CONVENTIONS, to_convention
from ..tasks.segmentation.baseline import threshold_baseline
from ..tasks.segmentation.metrics import volumes_ml
from .case import add_case_inputs, case_paths


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("segment-baseline", help="the plain threshold baseline segmentation "
                                                            "(z-scored FLAIR > 1.5, T1c > 1.0)")
    add_case_inputs(parser, folder_flag=True)
    parser.add_argument("--labels", choices=tuple(CONVENTIONS), default="brats2021")
    parser.add_argument("-o", "--output", required=True, help="label map to write (.nii.gz, .nii or .nrrd)")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    case = load_case(arguments.case_dir, case_paths(arguments))
    case.require(("flair", "t1c"), "the threshold baseline")
    harmonised, reference = harmonise(case, arguments.reference)
    grid = harmonised.images[reference]
    classes = threshold_baseline(harmonised.images["flair"], harmonised.images["t1c"])
    written = save_image(Image(to_convention(classes, arguments.labels), grid.affine), arguments.output,
                         dtype="uint8")
    print(json.dumps({"case": case.name, "reference": reference, "labels": arguments.labels,
                      "volumes_ml": volumes_ml(classes, grid.spacing), "written": str(written)}, indent=2))
    return 0
