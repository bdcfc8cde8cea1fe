"""The lab's commands (``train``, ``evaluate``, ``segment --trained``) import the lab package only when they run, so
the runtime (all that the Slicer extension installs) keeps the whole command line and says clearly what is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..core.errors import BrainTumorAIError

LAB = "BrainTumorAILab"


def lab_module(name: str, command: str) -> ModuleType:
    """``BrainTumorAILab.<name>``, for ``braintumorai <command>``; BrainTumorAIError when the lab is not installed."""
    try:
        importlib.import_module(LAB)
    except ModuleNotFoundError as error:
        if error.name != LAB:
            raise
        raise BrainTumorAIError(f"'braintumorai {command}' needs the lab package {LAB}, which is not installed here "
                                "(the Slicer extension ships the runtime only): pip install the repository") from error
    return importlib.import_module(f"{LAB}.{name}")
