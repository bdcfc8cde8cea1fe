"""``braintumorai segment (--case DIR | --flair F --t1c F ...) -o OUT.nii.gz``: tumour label map + volumes as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..core.case import load_case
from ..core.device import set_threads
from ..core.image import save_image
from ..core.labels import CONVENTIONS
from ..core.vocabulary import DEVICE_CHOICES
from ..tasks.segmentation import segment_case
from .case import add_case_inputs, case_paths
from .lab import lab_module


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment", help="segment the tumour (necrosis, oedema, enhancing) on the reference input's grid")
    add_case_inputs(parser, folder_flag=True)
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", help="segmentation model id (default: the registry's default)")
    model.add_argument("--trained", metavar="RUN_DIR",
                       help="use the weights of a `train segmentation` output folder instead of a registry model")
    parser.add_argument("--labels", choices=tuple(CONVENTIONS), default="brats2021",
                        help="label convention of the output file (default: brats2021, ET = 4)")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="average over flips (4 passes) and measure their spread (default: the model card's "
                             "inference.flip_tta)")
    parser.add_argument("--uncertainty", help="write the flips' spread (std of the tumour probability) here; "
                                              "implies --tta")
    parser.add_argument("--overlap", type=float, help="sliding-window overlap (default: the model card's)")
    parser.add_argument("--sw-batch-size", type=int, help="windows per batch (default: the model card's)")
    parser.add_argument("--small-et-ml", type=float, metavar="ML",
                        help="challenge rule: relabel the enhancing tumour as necrosis when it is under ML in total")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $BRAINTUMORAI_THREADS or all cores)")
    parser.add_argument("-o", "--output", required=True, help="label map to write (.nii.gz, .nii or .nrrd)")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    started = time.perf_counter()
    set_threads(arguments.threads)
    card = None
    if arguments.trained:
        card = lab_module("training.trained", "segment --trained").card_of_run(arguments.trained)
    case = load_case(arguments.case_dir, case_paths(arguments))
    postprocessing = None if arguments.small_et_ml is None else {"small_et_ml": arguments.small_et_ml}
    result = segment_case(case, model_id=arguments.model, labels=arguments.labels,
                          tta=True if arguments.uncertainty else arguments.tta, reference=arguments.reference,
                          device=arguments.device, overlap=arguments.overlap, sw_batch_size=arguments.sw_batch_size,
                          postprocessing=postprocessing, card=card)
    written = {"labels": str(save_image(result.labels, arguments.output, dtype="uint8"))}
    if arguments.uncertainty:
        written["uncertainty"] = str(save_image(result.uncertainty, arguments.uncertainty, dtype="float32"))
    print(json.dumps({
        "case": case.name, "model": {"id": result.card.id, "version": result.card.version},
        "reference": result.reference, "reference_file": str(case.images[result.reference].path),
        "labels": result.convention, "volumes_ml": result.volumes_ml, "written": written,
        "warnings": result.warnings, "seconds": round(time.perf_counter() - started, 2),
    }, indent=2))
    for warning in result.warnings:
        print(f"braintumorai: warning: segmentation: {warning}", file=sys.stderr)
    return 0
