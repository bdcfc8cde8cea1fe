"""``braintumorai classify (--case DIR | --t1c F ...)``: tumour type of a 3D study by the 27-slice rule, as JSON."""

from __future__ import annotations

import argparse
import json

from ..core.vocabulary import DEVICE_CHOICES
from .case import add_case_inputs, case_paths


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("classify", help="classify a study's tumour type (27 slices of its t1c)")
    add_case_inputs(parser, folder_flag=True)
    parser.add_argument("--model", help="classification model id (default: the registry's default)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--brief", action="store_true", help="leave out each slice's probabilities")
    parser.add_argument("--picture", metavar="PNG", help="also draw the classified slices, as the network saw them")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from ..core.case import load_case
    from ..tasks.classification import classify_case

    case = load_case(arguments.case_dir, case_paths(arguments))
    result = classify_case(case, model_id=arguments.model, device=arguments.device, with_slices=True)
    slices = result.pop("slice_images")
    if arguments.picture:
        from ..report import save_slice_sheet

        save_slice_sheet(slices, result, arguments.picture)
    if arguments.brief:
        for votes in result["votes"].values():
            for vote in votes:
                vote.pop("p")
    print(json.dumps({"case": case.name, **result}, indent=2))
    return 0
