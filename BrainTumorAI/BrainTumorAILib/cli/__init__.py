"""The ``braintumorai`` command line. Each sub-command lives in ``cli/<name>.py`` with ``add_parser``."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..core.errors import BrainTumorAIError
from ..protocol import error_line
from . import train

COMMANDS = ("case", "models", "run", "train", "classify", "classify-images", "segment", "evaluate", "strip",
            "segment-baseline", "sample")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="braintumorai",
        description="Brain-tumour MRI: skull stripping, classification and segmentation (research use only).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["train"]:  # the lab's parsers are built only when training
            return train.main(argv[1:])
        arguments = build_parser().parse_args(argv)
        return int(arguments.func(arguments) or 0)
    except BrainTumorAIError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("braintumorai: interrupted", file=sys.stderr)
        return 130

