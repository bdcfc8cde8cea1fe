"""Trained classifiers of one network as one model that outputs their mean probabilities.

Usage: ``python -m BrainTumorAILab.classification.ensemble --id ID --out DIR MEMBER MEMBER...``, where a member is a
classifier run folder (its ``models.json``, as every run writes) or the id of a registered model. The members must
share their architecture, preprocessing and inference settings. DIR becomes a run-like folder: ``model.safetensors``
(keys ``members.<i>.*``, fp16 like a run's), ``card.json`` (the first member's card with the ensemble network of
``inference/networks/ensemble.py`` and the members listed under ``training.members``) and ``models.json``, a registry
of the ensemble alone, so ``BRAINTUMORAI_MODELS=DIR/models.json`` scores it (``heldout.py``) like any classifier.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from BrainTumorAILib.core.atomic import write_json
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.registry import ModelCard, Registry
from BrainTumorAILib.core.weights import load_model, local_weights_path, sha256_of
from BrainTumorAILib.inference.networks.ensemble import MeanProbabilityEnsemble
from .train import save_weights

SHARED = ("architecture", "preprocessing", "inference", "outputs")
WEIGHTS = "model.safetensors"


def member_card(member: str) -> ModelCard:
    """The card of a run folder (its ``models.json``) or of a registered model id."""
    folder = Path(member)
    if (folder / "models.json").is_file():
        return Registry.load(folder / "models.json").cards[0]
    if folder.exists():
        raise InputError(f"Not a classifier run (no models.json): {folder}")
    return Registry.load().resolve("classification", member)


def combine(members: Sequence[str], out: str | Path, model_id: str) -> dict[str, Any]:
    """Write the ensemble of ``members`` to ``out``; return its card. InputError, naming the member, when there are
    fewer than two or one differs from the first in its network, preprocessing, inference or outputs."""
    if len(members) < 2:
        raise InputError("An ensemble needs at least two members")
    cards = [member_card(member) for member in members]
    for member, card in zip(members[1:], cards[1:]):
        different = [key for key in SHARED if getattr(card, key) != getattr(cards[0], key)]
        if different:
            raise InputError(f"{member} differs from {members[0]} in {', '.join(different)}; an ensemble's members "
                             "must share them")
    ensemble = MeanProbabilityEnsemble([load_model(card, progress=False) for card in cards], "softmax")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = save_weights(ensemble.state_dict(), out / WEIGHTS)
    card = {key: value for key, value in dataclasses.asdict(cards[0]).items() if key != "models_dir"}
    card.update({
        "id": model_id, "default": False,
        "title": f"Mean probability of {len(cards)} classifiers: " + ", ".join(c.id for c in cards),
        "architecture": {"name": "ensemble", "params": {"network": cards[0].architecture, "members": len(cards),
                                                        "activation": "softmax"}},
        "weights": {"file": WEIGHTS, "sha256": sha256_of(weights), "size_bytes": weights.stat().st_size,
                    "format": "safetensors"},
        "training": {"members": [{"id": c.id, "version": c.version, "seed": c.training.get("seed"),
                                  "sha256": sha256_of(local_weights_path(c)), "source": member}
                                 for member, c in zip(members, cards)]},
        "metrics": {},
    })
    write_json(card, out / "card.json")
    write_json({"version": 1, "models_dir": ".", "models": [card]}, out / "models.json")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.classification.ensemble",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", help="classifier run folders or registered model ids")
    parser.add_argument("--id", required=True, help="the ensemble's model id")
    parser.add_argument("--out", required=True, help="output folder")
    arguments = parser.parse_args(argv)
    card = combine(arguments.members, arguments.out, arguments.id)
    print(json.dumps({"id": card["id"], "members": card["training"]["members"], "out": arguments.out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
