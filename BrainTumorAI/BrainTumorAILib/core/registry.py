"""The model registry: ``models.json`` validated against its JSON Schema, model cards, and resolution.

A model is described by data (its card), never recognised by a file name. Weights are either bundled under
``BrainTumorAI/Resources/Models`` (card field ``weights.file``; another registry may name its own ``models_dir``,
relative to itself) or downloaded from ``weights.url`` into the cache
(``download.py``); either way their sha256 is checked before use.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .errors import ModelError

MODULE_DIR = Path(__file__).resolve().parents[2]  # BrainTumorAI/
RESOURCES_DIR = MODULE_DIR / "Resources"
MODELS_DIR = RESOURCES_DIR / "Models"
SCHEMA_PATH = RESOURCES_DIR / "models.schema.json"
TASKS = ("skull_stripping", "classification", "segmentation")


def default_registry_path() -> Path:
    """``$BRAINTUMORAI_MODELS`` when set, else the repository's ``models.json`` (the extension ships it beside)."""
    override = os.environ.get("BRAINTUMORAI_MODELS")
    if override:
        return Path(override)
    for candidate in (MODULE_DIR.parent / "models.json", MODULE_DIR / "models.json"):
        if candidate.exists():
            return candidate
    return MODULE_DIR.parent / "models.json"


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """One entry of models.json. ``architecture`` = {"name": ..., "params": {...}} as networks.build_network takes."""

    id: str
    task: str
    title: str
    version: str
    architecture: dict[str, Any]
    inputs: list[str]
    outputs: dict[str, Any]
    preprocessing: dict[str, Any]
    weights: dict[str, Any]
    license: str
    intended_use: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    default: bool = False
    inference: dict[str, Any] = dataclasses.field(default_factory=dict)
    models_dir: Path = MODELS_DIR  # where a bundled ``weights.file`` lives (the registry's "models_dir")

    @property
    def bundled(self) -> bool:
        return "file" in self.weights

    @property
    def sha256(self) -> str:
        return str(self.weights["sha256"])

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "task": self.task, "title": self.title, "version": self.version,
            "inputs": self.inputs, "default": self.default,
            "weights": "bundled" if self.bundled else self.weights.get("url"),
        }


class Registry:
    """Model cards read from one models.json, validated against ``Resources/models.schema.json``."""

    def __init__(self, cards: list[ModelCard], path: Path):
        self.cards = cards
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Registry":
        path = Path(path) if path else default_registry_path()
        if not path.exists():
            raise ModelError(f"Model registry not found: {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ModelError(f"Model registry is not valid JSON ({error}): {path}") from error
        validate_registry(data, path)
        models_dir = (path.parent / data["models_dir"]).resolve() if "models_dir" in data else MODELS_DIR
        cards = [ModelCard(**entry, models_dir=models_dir) for entry in data["models"]]
        return cls(cards, path)

    def get(self, model_id: str) -> ModelCard:
        for card in self.cards:
            if card.id == model_id:
                return card
        known = ", ".join(card.id for card in self.cards) or "none"
        raise ModelError(f"Unknown model id '{model_id}' in {self.path} (known: {known})")

    def default(self, task: str) -> ModelCard:
        candidates = [card for card in self.cards if card.task == task]
        for card in candidates:
            if card.default:
                return card
        if candidates:
            return candidates[0]
        raise ModelError(f"No model for task '{task}' in {self.path}")

    def resolve(self, task: str, model_id: str | None = None) -> ModelCard:
        """The card ``model_id`` (which must be of ``task``), or the task's default when ``model_id`` is None."""
        if model_id is None:
            return self.default(task)
        card = self.get(model_id)
        if card.task != task:
            raise ModelError(f"Model '{model_id}' is a {card.task} model, not a {task} model ({self.path})")
        return card

    def for_task(self, task: str) -> list[ModelCard]:
        return [card for card in self.cards if card.task == task]


def validate_registry(data: Any, path: Path) -> None:
    """Raise ModelError naming the file and the first offending field when ``data`` breaks the schema."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(top level)"
        raise ModelError(f"Model registry fails its schema at '{where}': {first.message} ({path})")
    ids = [entry["id"] for entry in data["models"]]
    duplicates = sorted({model_id for model_id in ids if ids.count(model_id) > 1})
    if duplicates:
        raise ModelError(f"Model registry repeats the id(s) {duplicates}: {path}")
