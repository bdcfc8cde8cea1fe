"""``braintumorai models list | download ID | verify [ID]``."""

from __future__ import annotations

import argparse
import json

from ..core.registry import Registry
from ..core.weights import ensure_weights, local_weights_path, verify


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, download and verify models")
    parser.add_argument("--registry", help="models.json to use (default: the bundled one)")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list the models with their task and where their weights are")
    download = actions.add_parser("download", help="download a model's weights into the cache")
    download.add_argument("model_id")
    check = actions.add_parser("verify", help="check the sha256 of local weights (all models when no id is given)")
    check.add_argument("model_id", nargs="?")
    parser.set_defaults(func=run)


def run(arguments: argparse.Namespace) -> int:
    registry = Registry.load(arguments.registry)
    if arguments.action == "list":
        for card in registry.cards:
            entry = card.summary()
            entry["local"] = str(local_weights_path(card)) if local_weights_path(card).exists() else None
            print(json.dumps(entry))
        return 0
    if arguments.action == "download":
        path = ensure_weights(registry.get(arguments.model_id))
        print(json.dumps({"id": arguments.model_id, "path": str(path), "verified": True}))
        return 0
    cards = [registry.get(arguments.model_id)] if arguments.model_id else registry.cards
    for card in cards:
        path = local_weights_path(card)
        if not card.bundled and not path.exists() and not arguments.model_id:
            print(json.dumps({"id": card.id, "status": "not downloaded"}))
            continue
        verify(card, path)
        print(json.dumps({"id": card.id, "status": "ok", "path": str(path)}))
    return 0
