"""Networks by name: a model card's ``architecture`` = {"name": ..., "params": {...}} builds its torch module.

Each family lives in its own file and registers its builders with ``@architecture("name")``; the file is listed
in ``_FAMILIES`` so that every builder is known before a card is resolved.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch

from ...core.errors import ModelError

Builder = Callable[..., torch.nn.Module]
_BUILDERS: dict[str, Builder] = {}
_FAMILIES: tuple[str, ...] = ("monai_nets", "classification", "stripping", "ensemble")


def architecture(name: str) -> Callable[[Builder], Builder]:
    """Register ``builder(**params) -> nn.Module`` under ``name``."""

    def register(builder: Builder) -> Builder:
        _BUILDERS[name] = builder
        return builder

    return register


def known_architectures() -> list[str]:
    for family in _FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
    return sorted(_BUILDERS)


def build_network(spec: dict[str, Any]) -> torch.nn.Module:
    """Build the network a model card's ``architecture`` entry describes."""
    names = known_architectures()
    name = spec.get("name")
    if name not in _BUILDERS:
        raise ModelError(f"Unknown architecture '{name}' (known: {', '.join(names) or 'none'})")
    try:
        return _BUILDERS[name](**spec.get("params", {}))
    except TypeError as error:
        raise ModelError(f"Bad parameters for architecture '{name}': {error}") from error
