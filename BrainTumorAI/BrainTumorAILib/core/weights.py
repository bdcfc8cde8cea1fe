"""Find, download, verify and load a model's weights.

Bundled weights live in ``BrainTumorAI/Resources/Models``; downloaded ones in the cache ``$BRAINTUMORAI_HOME/models``
(default ``~/.braintumorai/models``). A download (``download.py``) goes to a temporary name and is renamed only when
complete and its sha256 matches the card; weights are read with safetensors or ``torch.load(weights_only=True)``,
never by unpickling arbitrary objects.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .download import download, sha256_of
from .errors import ModelError
from .registry import ModelCard


def cache_dir() -> Path:
    """Where downloaded weights are kept: ``$BRAINTUMORAI_HOME/models``, default ``~/.braintumorai/models``."""
    home = Path(os.environ.get("BRAINTUMORAI_HOME", Path.home() / ".braintumorai"))
    return home / "models"


def local_weights_path(card: ModelCard) -> Path:
    """Where ``card``'s weights are (bundled) or will be (cached download)."""
    if card.bundled:
        return card.models_dir / card.weights["file"]
    name = card.weights["url"].rstrip("/").rsplit("/", 1)[-1] or "weights"
    return cache_dir() / card.id / card.version / name


def verify(card: ModelCard, path: Path | None = None) -> Path:
    """Raise ModelError unless the weights file exists and its sha256 equals the card's."""
    path = path or local_weights_path(card)
    if not path.exists():
        raise ModelError(f"Weights of model '{card.id}' not found: {path}")
    actual = sha256_of(path)
    if actual != card.sha256:
        raise ModelError(
            f"Weights of model '{card.id}' fail their checksum: sha256 {actual} differs from the model card's "
            f"{card.sha256}: {path}"
        )
    return path


def ensure_weights(card: ModelCard, *, progress: bool = True, timeout: float = 30.0) -> Path:
    """The verified weights file of ``card``, downloading it into the cache first when it is not there."""
    path = local_weights_path(card)
    if card.bundled or path.exists():
        return verify(card, path)
    download(card.weights["url"], path, expected_sha256=card.sha256, progress=progress, timeout=timeout,
             what=f"model '{card.id}'")
    return path


def load_state_dict(card: ModelCard, *, progress: bool = True) -> dict[str, torch.Tensor]:
    """The verified state dict of ``card`` on the CPU."""
    path = ensure_weights(card, progress=progress)
    try:
        if card.weights["format"] == "safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any reader failure is a bad weights file for the user
        raise ModelError(f"Cannot read the weights of model '{card.id}' ({error}): {path}") from error
    key = card.weights.get("key")
    if key:
        if key not in state:
            raise ModelError(f"Weights of model '{card.id}' have no entry '{key}': {path}")
        state = state[key]
    return state


def load_model(card: ModelCard, *, progress: bool = True) -> torch.nn.Module:
    """Build ``card``'s network and load its verified weights; a mismatch is reported as a ModelError."""
    from ..inference.networks import build_network

    network = build_network(card.architecture)
    state = load_state_dict(card, progress=progress)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = "; ".join(line.strip() for line in first[:3])
        raise ModelError(
            f"Weights of model '{card.id}' do not fit its architecture {card.architecture['name']} "
            f"(for example a different channel count): {detail} ({local_weights_path(card)})"
        ) from error
    return network.eval()
