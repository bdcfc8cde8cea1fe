"""``braintumorai train ensemble --runs DIR DIR ... --out DIR``: training runs of one network as one model."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def add_parser(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser("ensemble", help="combine segmentation training runs of one network into one "
                                                 "model that averages their probabilities")
    parser.add_argument("--runs", nargs="+", required=True, metavar="RUN_DIR",
                        help="`train segmentation` output folders (same network, inputs and preprocessing)")
    parser.add_argument("--out", required=True, help="output run folder (model.safetensors, training.json)")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from .ensemble import combine_runs
    from .trained import WEIGHTS

    summary = combine_runs(arguments.runs, arguments.out,
                           command=shlex.join(["braintumorai", *sys.argv[1:]]))
    print(json.dumps({"members": len(summary["members"]), "written": str(Path(arguments.out) / WEIGHTS)}))
    return 0
