"""``braintumorai train TARGET ...``: each target's parser lives beside its trainer in the lab package, named here
as "module:function" (``function(subparsers)`` adds the target's sub-command and sets ``func``). The lab's parsers
are built only when ``train`` runs."""

from __future__ import annotations

import argparse

from .lab import lab_module

TARGETS = {
    "segmentation": "training.segmentation_cli:add_parser",
    "cross-validate": "training.segmentation_cli:add_cross_validation_parser",
    "strip": "stripping.train_cli:add_parser",
    "classification": "classification.train_cli:add_parser",
    "ensemble": "training.ensemble_cli:add_parser",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Lists ``train`` among the commands; ``cli.main`` hands its arguments to ``main`` unparsed."""
    subparsers.add_parser("train", help="train a model from a JSON config (needs the lab package)")


def main(argv: list[str]) -> int:
    """``braintumorai train`` with ``argv`` (the arguments after ``train``)."""
    parser = argparse.ArgumentParser(prog="braintumorai train", description="Train a model from a JSON config.")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    for where in TARGETS.values():
        module, function = where.split(":")
        getattr(lab_module(module, "train"), function)(targets)
    arguments = parser.parse_args(argv)
    return int(arguments.func(arguments) or 0)
