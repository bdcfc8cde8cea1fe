"""``braintumorai train classification --config FILE [--data DIR] [--out DIR] [--threads N]``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys


def add_parser(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser("classification", help="train a 2D tumour-type classifier (twin-aware split)")
    parser.add_argument("--config", required=True, help="JSON training config (Resources/Configs/classification)")
    parser.add_argument("--data", help="folder with one sub-folder per class (default: the config's, "
                                       "../shared/data/classification/masoud-train)")
    parser.add_argument("--out", help="output folder (default: runs/classification/<config name>)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $BRAINTUMORAI_THREADS or all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    from .config import load_config
    from .train import train

    config = load_config(arguments.config)
    if arguments.data:
        config["data"] = arguments.data
    config["command"] = shlex.join(["braintumorai", *sys.argv[1:]])
    out = arguments.out or f"runs/classification/{config['name']}"
    metrics = train(config, out, threads=arguments.threads, progress=not arguments.no_progress)
    print(json.dumps({"out": out, "best_epoch": metrics["best_epoch"], "twins": metrics["twins"],
                      "validation": {key: metrics["validation"][key] for key in ("accuracy", "recall")},
                      "seconds": metrics["training_seconds"]}))
    return 0
