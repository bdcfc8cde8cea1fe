"""``braintumorai train TARGET ...``: each target's parser lives beside its trainer, named here as "module:function"
(``function(subparsers)`` adds the target's sub-command and sets ``func``)."""

from __future__ import annotations

import argparse
import importlib

TARGETS = {
    "segmentation": "..training.segmentation_cli:add_parser",
    "cross-validate": "..training.segmentation_cli:add_cross_validation_parser",
    "strip": "..stripping.train_cli:add_parser",
    "classification": "..classification.train_cli:add_parser",
    "ensemble": "..training.ensemble_cli:add_parser",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model from a JSON config")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    for where in TARGETS.values():
        module, function = where.split(":")
        getattr(importlib.import_module(module, __package__), function)(targets)
