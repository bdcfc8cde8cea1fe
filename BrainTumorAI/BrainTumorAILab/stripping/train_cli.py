"""``braintumorai train strip --config FILE [--data DIR] [--out DIR] [--device D] [--threads N] [--resume]``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from BrainTumorAILib.core.device import set_threads
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.vocabulary import DEVICE_CHOICES


def add_parser(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser("strip", help="train the learned skull stripper (coarse stage or edge refinement)")
    parser.add_argument("--config", required=True, help="JSON training config (Resources/Configs/stripping)")
    parser.add_argument("--data", default=os.environ.get("BRAINTUMORAI_DATA", "../shared/data"),
                        help="data folder holding the config's real_brains (default: $BRAINTUMORAI_DATA or ../shared/data)")
    parser.add_argument("--out", default="runs/strip", help="output folder (weights, history, summary)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--threads", type=int, help="CPU threads (default: $BRAINTUMORAI_THREADS or all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--hold-out-head", action="append", default=[], metavar="FOLDER",
                        help="leave this folder of the config's real_heads out of training (leave-one-head-out)")
    parser.add_argument("--coarse-model", metavar="ID",
                        help="edge-refinement configs: the registry's coarse stripper the run's two-stage card "
                             "refines (default: the config's coarse_model)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (same config and flags)")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from .edges import STAGE, train_refiner
    from .training import load_strip_config, train_stripper

    set_threads(arguments.threads)
    config = load_strip_config(arguments.config)
    heads = config.get("real_heads", [])
    unknown = [folder for folder in arguments.hold_out_head if folder not in heads]
    if unknown:
        raise InputError(f"--hold-out-head {', '.join(unknown)} is not among the config's real_heads "
                         f"({', '.join(heads) or 'none'}): {arguments.config}")
    config["real_heads"] = [folder for folder in heads if folder not in arguments.hold_out_head]
    refinement = config.get("stage") == STAGE
    if arguments.coarse_model and not refinement:
        raise InputError(f"--coarse-model is for edge-refinement configs (stage {STAGE}): {arguments.config}")
    if arguments.coarse_model:
        config["coarse_model"] = arguments.coarse_model
    train = train_refiner if refinement else train_stripper
    summary = train(config, arguments.out, device=arguments.device, progress=not arguments.no_progress,
                    command=shlex.join(["braintumorai", *sys.argv[1:]]), data=arguments.data, resume=arguments.resume)
    score = "validation_patch_dice" if refinement else "validation_dice"
    print(json.dumps({key: summary[key] for key in (score, "seconds", "iterations")}))
    return 0
