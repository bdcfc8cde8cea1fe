"""``braintumorai train segmentation --config FILE [--data DIR] [--out DIR] [--validate-on CASE ...]`` and
``braintumorai train cross-validate --config FILE [--data DIR] --out DIR [--folds CASE ...]``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from BrainTumorAILib.core.device import set_threads
from BrainTumorAILib.core.vocabulary import DEVICE_CHOICES

if TYPE_CHECKING:
    from .config import SegmentationConfig

DEFAULT_DATA = Path(os.environ.get("BRAINTUMORAI_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data")
                    ) / "segmentation"


def add_parser(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser("segmentation", help="train a tumour segmentation network (torchrun for several "
                                                     "processes)")
    _add_recipe_options(parser)
    parser.add_argument("--out", default="runs/segmentation", help="output folder (weights, checkpoint, history)")
    parser.add_argument("--validate-on", nargs="+", default=[], metavar="CASE",
                        help="case folder names held out for validation Dice and early stopping")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.set_defaults(func=run)


def add_cross_validation_parser(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser("cross-validate", help="leave-one-case-out: one segmentation run per held-out case, "
                                                       "its Dice at the best and the last validated epoch, and of the "
                                                       "averaged weights with schedule.average_from")
    _add_recipe_options(parser)
    parser.add_argument("--out", required=True, help="study folder (fold-CASE runs, cross_validation.json and .csv); "
                                                     "finished folds in it are reused")
    parser.add_argument("--folds", nargs="+", default=[], metavar="CASE",
                        help="cases to hold out, one fold each (default: every case)")
    parser.set_defaults(func=run_cross_validation)


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="JSON training config (Resources/Configs/segmentation)")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="folder of BraTS-style labelled cases (default: ../shared/data/segmentation)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--threads", type=int, help="CPU threads (default: $BRAINTUMORAI_THREADS or all cores)")
    parser.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this wall time "
                                                          "(overrides the config's schedule.max_minutes)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config's seed; e.g. for ensemble members)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(arguments: argparse.Namespace) -> "SegmentationConfig":
    """The config file with the command line's overrides."""
    from .config import load_config

    set_threads(arguments.threads)
    config = load_config(arguments.config)
    if arguments.max_minutes is not None:
        config.schedule["max_minutes"] = arguments.max_minutes
    if arguments.seed is not None:
        config.raw["seed"] = arguments.seed
    return config


def _command() -> str:
    return shlex.join(["braintumorai", *sys.argv[1:]])


def run(arguments: argparse.Namespace) -> int:
    from .segmentation import train_segmentation

    summary = train_segmentation(_config(arguments), arguments.data, arguments.out, arguments.validate_on,
                                 device=arguments.device, progress=not arguments.no_progress, command=_command(),
                                 resume=arguments.resume)
    if summary["epochs_run"] is not None:
        print(json.dumps({key: summary[key] for key in ("best_epoch", "validation_dice", "averaged", "seconds")}))
    return 0


def run_cross_validation(arguments: argparse.Namespace) -> int:
    from .cross_validation import cross_validate

    study = cross_validate(_config(arguments), arguments.data, arguments.out, folds=arguments.folds,
                           device=arguments.device, progress=not arguments.no_progress, command=_command())
    print(json.dumps({"mean": study["mean"], "written": str(Path(arguments.out) / "cross_validation.json")}, indent=2))
    return 0
