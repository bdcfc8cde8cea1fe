"""Downloading weights from a real HTTP server on 127.0.0.1 (conftest's ``server``): the MONAI bundle's loading
path, broken and wrong files.

The registry's ``monai-brats-segresnet`` card is copied with its URL pointing at the local server, which serves a
bundle-shaped file (a plain torch state dict of the card's SegResNet) of random weights made by the test.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.errors import DownloadError
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.core.weights import ensure_weights, load_model, local_weights_path
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.tasks.segmentation import segment_case

BUNDLE_ID = "monai-brats-segresnet"


def local_registry(tmp_path: Path, monkeypatch, server, payload: bytes, *, sha256: str | None = None,
                   **inference) -> Registry:
    """A copy of the bundle card whose URL is the local server serving ``payload``, used as the registry, with the
    weights cache under ``tmp_path``."""
    bundle = next(entry for entry in json.loads(Path(Registry.load().path).read_text())["models"]
                  if entry["id"] == BUNDLE_ID)
    card = copy.deepcopy(bundle)
    card["weights"].update(url=f"http://127.0.0.1:{server.server_port}/models/model.pt",
                           sha256=sha256 or hashlib.sha256(payload).hexdigest(), size_bytes=len(payload))
    card["inference"].update(inference)
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"version": 1, "models": [card]}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(path))
    monkeypatch.setenv("BRAINTUMORAI_HOME", str(tmp_path / "home"))
    server.payload = payload
    return Registry.load(path)


def bundle_shaped_weights(tmp_path: Path) -> tuple[bytes, dict[str, torch.Tensor]]:
    """A plain torch state dict of the bundle card's SegResNet with random weights, as bytes."""
    torch.manual_seed(0)
    state = build_network(Registry.load().get(BUNDLE_ID).architecture).state_dict()
    path = tmp_path / "model.pt"
    torch.save(state, path)
    return path.read_bytes(), state


def test_the_bundle_card_describes_the_model_zoo_segresnet():
    card = Registry.load().get(BUNDLE_ID)
    assert card.inputs == ["t1c", "t1", "t2", "flair"]
    assert card.outputs == {"activation": "sigmoid", "channels": ["TC", "WT", "ET"]}
    assert card.architecture["params"]["blocks_down"] == [1, 2, 2, 4]
    assert card.weights["url"].startswith("https://") and not card.bundled


def test_bundle_weights_download_verify_load_and_segment(tmp_path, monkeypatch, server):
    payload, state = bundle_shaped_weights(tmp_path)
    registry = local_registry(tmp_path, monkeypatch, server, payload, roi_size=[24, 24, 24])
    card = registry.get(BUNDLE_ID)
    path = ensure_weights(card, progress=False)
    assert path == local_weights_path(card) and path.read_bytes() == payload
    assert path.is_relative_to(tmp_path / "home" / "models")
    model = load_model(card, progress=False)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[name])
    phantom = make_phantom(2, shape=(24, 24, 24), spacing=(8.0, 8.0, 8.0))
    result = segment_case(Case(phantom.images, "phantom"), model_id=BUNDLE_ID, device="cpu")
    assert result.classes.same_grid(phantom.images["t1c"]) and result.card.id == BUNDLE_ID
    assert set(np.unique(result.classes.array)) <= {0, 1, 2, 3}


def test_a_connection_dropped_midway_leaves_no_file_in_the_cache(tmp_path, monkeypatch, server):
    payload, _ = bundle_shaped_weights(tmp_path)
    card = local_registry(tmp_path, monkeypatch, server, payload).get(BUNDLE_ID)
    server.cut_at = len(payload) // 2
    with pytest.raises(DownloadError, match="broke off|Cannot download"):
        ensure_weights(card, progress=False)
    folder = local_weights_path(card).parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_wrong_bytes_are_rejected_and_not_kept(tmp_path, monkeypatch, server):
    payload, _ = bundle_shaped_weights(tmp_path)
    card = local_registry(tmp_path, monkeypatch, server, payload, sha256="0" * 64).get(BUNDLE_ID)
    with pytest.raises(DownloadError, match="rejected"):
        ensure_weights(card, progress=False)
    folder = local_weights_path(card).parent
    assert not folder.exists() or list(folder.iterdir()) == []
