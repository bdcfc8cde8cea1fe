"""``braintumorai run`` (one case) and ``braintumorai batch`` (a folder of cases): the full pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from ..batch import run_batch
from ..core.case import Case, load_case
from ..core.labels import CONVENTIONS
from ..core.vocabulary import DEVICE_CHOICES
from ..pipeline import STEPS, PipelineOptions, run_pipeline
from ..protocol import progress_line, read_options
from ..report import summary_line, write_outputs
from ..tasks.stripping import METHODS
from .case import add_case_inputs, add_register_option, case_paths, series_choice


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="full pipeline on one case: strip, classify, segment, report")
    add_case_inputs(run, folder_flag=True)
    run.add_argument("-o", "--out", required=True, help="output folder")
    run.add_argument("--progress-lines", action="store_true",
                     help="print 'PROGRESS <percent> <step>' lines on stderr instead of a progress bar")
    run.add_argument("--options", metavar="JSON",
                     help="pipeline options as one JSON document (protocol.write_options); replaces their flags")
    add_pipeline_options(run)
    run.set_defaults(func=run_one)
    batch = subparsers.add_parser("batch", help="full pipeline on every case folder of a directory")
    batch.add_argument("--cases", required=True, help="folder whose sub-folders are cases")
    batch.add_argument("-o", "--out", required=True, help="output folder (one sub-folder per case)")
    batch.add_argument("--reference", help="sequence whose grid the outputs use (default t1c, else flair)")
    add_pipeline_options(batch)
    batch.set_defaults(func=run_many)


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated steps (default {','.join(STEPS)})")
    parser.add_argument("--strip-method", choices=METHODS, default="learned")
    parser.add_argument("--strip-model", help="skull-stripping model id (default: the registry's default)")
    parser.add_argument("--classify-model", help="classification model id")
    parser.add_argument("--segment-model", help="segmentation model id")
    parser.add_argument("--labels", choices=tuple(CONVENTIONS), default="brats2021", help="label convention")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="flip test-time augmentation with an uncertainty map (default: the segmentation "
                             "model card's inference.flip_tta)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    add_register_option(parser)


def pipeline_options(arguments: argparse.Namespace) -> PipelineOptions:
    steps = tuple(step.strip() for step in arguments.steps.split(",") if step.strip())
    return PipelineOptions(
        steps=steps, strip_method=arguments.strip_method, strip_model=arguments.strip_model,
        classify_model=arguments.classify_model, segment_model=arguments.segment_model,
        labels=arguments.labels, tta=arguments.tta, reference=arguments.reference, device=arguments.device,
        register=arguments.register,
    )


def run_one(arguments: argparse.Namespace) -> int:
    options = read_options(arguments.options) if arguments.options else pipeline_options(arguments)
    case = load_case(arguments.case_dir, case_paths(arguments), series=series_choice(arguments))
    if arguments.progress_lines:
        def progress(percent: float, step: str) -> None:
            print(progress_line(percent, step), file=sys.stderr, flush=True)

        result = run_pipeline(case, options, progress)
    else:
        with tqdm(total=100, unit="%", desc=case.name, bar_format="{l_bar}{bar}| {n:.0f}% {postfix}") as bar:
            def progress(percent: float, step: str) -> None:
                bar.update(percent - bar.n)
                bar.set_postfix_str(step)

            result = run_pipeline(case, options, progress)
    written = write_outputs(result, arguments.out, dicom_sources=dicom_sources(case, result.reference))
    report = result.report()
    report["outputs"] = {key: str(path) for key, path in written.items()}
    print(json.dumps(report, indent=2))
    return 0


def dicom_sources(case: Case, reference: str) -> list[Path] | None:
    """The reference series' files of a case read from DICOM (for a DICOM SEG beside the NIfTI outputs), else None."""
    series = getattr(case, "series", None)
    return [Path(path) for path in series[reference].files] if series and reference in series else None


def run_many(arguments: argparse.Namespace) -> int:
    options = pipeline_options(arguments)

    def process(folder: Path, out: Path) -> str:
        case = load_case(folder)
        result = run_pipeline(case, options)
        write_outputs(result, out, dicom_sources=dicom_sources(case, result.reference))
        return summary_line(result)

    summary = run_batch(arguments.cases, arguments.out, process)
    return min(len(summary.failed), 125)
