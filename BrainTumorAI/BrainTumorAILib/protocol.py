"""The contract between a parent (the Slicer module) and the ``braintumorai run`` child process it starts.

The parent writes the pipeline options as one JSON document (``write_options``) and passes it with ``--options``;
the child reads it (``read_options``), reports progress as ``PROGRESS <percent> <step>`` lines and a failure as one
``braintumorai: error: <message>`` line on stderr, and writes its results to the output folder. Both sides format
and parse those lines here, and nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.atomic import write_json
from .core.errors import InputError

if TYPE_CHECKING:  # the CLI formats its error line from here without loading the pipeline
    from .pipeline import PipelineOptions

PROGRESS = "PROGRESS"
ERROR_PREFIX = "braintumorai: error: "


def progress_line(percent: float, step: str) -> str:
    return f"{PROGRESS} {percent:.1f} {step}"


def error_line(message: object) -> str:
    return f"{ERROR_PREFIX}{message}"


def parse_line(line: str) -> tuple[str, Any]:
    """One line of the child's output -> ("progress", (percent, step)), ("error", message) or ("log", line)."""
    if line.startswith(PROGRESS + " "):
        _, percent, *step = line.split(" ", 2)
        try:
            return "progress", (float(percent), step[0] if step else "")
        except ValueError:
            return "log", line
    if line.startswith(ERROR_PREFIX):
        return "error", line[len(ERROR_PREFIX):]
    return "log", line


def write_options(options: "PipelineOptions", path: str | os.PathLike) -> Path:
    """The options as a JSON document (every field of PipelineOptions), written atomically."""
    return write_json(dataclasses.asdict(options), Path(path))


def read_options(path: str | os.PathLike) -> "PipelineOptions":
    """PipelineOptions from ``write_options``' document; InputError naming the file for an unreadable one or an
    unknown field."""
    from .pipeline import PipelineOptions

    path = Path(path)
    try:
        given = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"Cannot read the pipeline options ({error}): {path}") from error
    if not isinstance(given, dict):
        raise InputError(f"The pipeline options are not a JSON object: {path}")
    known = {field.name for field in dataclasses.fields(PipelineOptions)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(f"Unknown pipeline option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))}): "
                         f"{path}")
    if "steps" in given:
        given["steps"] = tuple(given["steps"])
    return PipelineOptions(**given)
