"""``braintumorai classify (--case DIR | --t1c F ...)``: tumour type of a 3D study, as JSON.

``--slices tumour`` strips and segments the study first (the pipeline of ``run``, nothing written) and classifies
slices through the segmented tumour; ``head`` classifies seed 004's 27 slices around the head's middle, which miss
most small tumours; ``auto`` (the default) takes ``tumour`` when the study has the sequences the segmenter needs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..core.vocabulary import DEVICE_CHOICES
from .case import add_case_inputs, add_register_option, case_paths, series_choice

SLICE_CHOICES = ("auto", "tumour", "head")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("classify", help="classify a study's tumour type (slices of its t1c)")
    add_case_inputs(parser, folder_flag=True)
    parser.add_argument("--slices", choices=SLICE_CHOICES, default="auto",
                        help="tumour: through the tumour the segmenter finds (strips and segments first, about a "
                             "minute on a CPU); head: 27 slices around the head's middle (seconds); auto (default): "
                             "tumour when the study has the segmenter's required sequences, else head")
    parser.add_argument("--model", help="classification model id (default: the registry's default)")
    parser.add_argument("--segment-model", help="segmentation model that locates the tumour (default: the default)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    add_register_option(parser)
    parser.add_argument("--brief", action="store_true", help="leave out each slice's probabilities")
    parser.add_argument("--picture", metavar="PNG", help="also draw the classified slices, as the network saw them")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from ..core.case import load_case

    case = load_case(arguments.case_dir, case_paths(arguments), series=series_choice(arguments))
    missing = missing_for_segmentation(case.images, arguments.segment_model)
    if arguments.slices == "tumour" and missing:
        from ..core.errors import InputError

        raise InputError(f"--slices tumour needs the segmenter's {', '.join(missing)}, which case '{case.name}' "
                         "lacks; use --slices head")
    if arguments.slices == "head" or missing:
        result, slices = classify_head_slices(case, arguments)
        result["located_by"] = "head slices" + (f" (the case lacks the segmenter's {', '.join(missing)})"
                                                if missing else "")
    else:
        result, slices = classify_through_tumour(case, arguments)
    if arguments.picture:
        from ..report import save_slice_sheet

        save_slice_sheet(slices, result, arguments.picture)
    if arguments.brief:
        for votes in result["votes"].values():
            for vote in votes:
                vote.pop("p")
    print(json.dumps({"case": case.name, **result}, indent=2))
    return 0


def missing_for_segmentation(images: dict[str, Any], model_id: str | None) -> list[str]:
    """The segmenter's required sequences that ``images`` lacks (none: the tumour can be located)."""
    from ..core.registry import Registry
    from ..tasks.segmentation.inputs import required_inputs

    card = Registry.load().resolve("segmentation", model_id)
    return [name for name in required_inputs(card) if name not in images]


def classify_head_slices(case, arguments: argparse.Namespace) -> tuple[dict[str, Any], list]:
    from ..tasks.classification import classify_case

    result = classify_case(case, model_id=arguments.model, device=arguments.device, with_slices=True)
    return result, result.pop("slice_images")


def classify_through_tumour(case, arguments: argparse.Namespace) -> tuple[dict[str, Any], list]:
    """The pipeline's strip, segment and classify steps; the classification with the segmenter and any warnings."""
    from ..pipeline import STEPS, PipelineOptions, run_pipeline

    options = PipelineOptions(steps=STEPS, classify_model=arguments.model, segment_model=arguments.segment_model,
                              reference=arguments.reference, device=arguments.device, register=arguments.register)
    outcome = run_pipeline(case, options)
    result = dict(outcome.classification)
    result["located_by"] = f"segmentation {outcome.models['segmentation']['id']}"
    if outcome.warnings:
        result["warnings"] = list(outcome.warnings)
    return result, outcome.classification_slices
