"""Training configs are JSON files: read one, lay it over defaults, check its required keys.

Shared by the segmentation, skull-stripping and classification trainers; every error names the file.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable

from BrainTumorAILib.core.errors import InputError


def read_config(path: str | os.PathLike, required: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object in ``path``; InputError when it is absent, not JSON, or lacks a ``required`` key."""
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"Training config not found: {path}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"Training config is not valid JSON ({error}): {path}") from error
    require(config, required, str(path))
    return config


def require(config: dict[str, Any], required: Iterable[str], where: str) -> None:
    missing = [key for key in required if key not in config]
    if missing:
        raise InputError(f"Training config lacks {', '.join(missing)}: {where}")


def merge(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` with ``given`` laid over it, dictionaries merged key by key."""
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else copy.deepcopy(value)
    return merged
