"""Classifier ensembles (lab classification/ensemble.py): two trained runs as one registered model whose
probabilities are the mean of its members', loaded and run by the engine like any classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

from BrainTumorAILab.classification.ensemble import combine
from BrainTumorAILab.classification.train import train
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.tasks.classification.predict import Classifier
from classification_models import class_image, tiny_config, write_dataset


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    data = write_dataset(root / "data", per_class=12)
    for seed in (1, 2):
        train(tiny_config(data, seed=seed, epochs=1, name=f"tiny-seed{seed}"), root / f"run{seed}", threads=1,
              progress=False)
    return root


def _probabilities(registry, model_id, images, monkeypatch):
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(registry))
    return Classifier.load(model_id, "cpu").probabilities(images)


def test_the_ensemble_gives_its_members_mean_probability(two_runs, tmp_path, monkeypatch):
    card = combine([str(two_runs / "run1"), str(two_runs / "run2")], tmp_path / "ensemble", "tiny-ensemble")
    assert card["architecture"]["params"]["members"] == 2
    assert [member["seed"] for member in card["training"]["members"]] == [1, 2]
    Registry.load(tmp_path / "ensemble" / "models.json")  # a valid registry
    rng = np.random.default_rng(3)
    images = np.stack([class_image(label, rng) for label in ("glioma", "notumor", "pituitary")]).astype(np.float32)
    images /= 255
    members = [_probabilities(two_runs / f"run{seed}" / "models.json", f"tiny-seed{seed}", images, monkeypatch)
               for seed in (1, 2)]
    combined = _probabilities(tmp_path / "ensemble" / "models.json", "tiny-ensemble", images, monkeypatch)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # two different networks
    np.testing.assert_allclose(combined, (members[0] + members[1]) / 2, atol=1e-5)
    assert json.loads((tmp_path / "ensemble" / "card.json").read_text())["id"] == "tiny-ensemble"


def test_members_that_differ_or_are_missing_are_refused_by_name(two_runs, tmp_path):
    with pytest.raises(InputError, match="at least two members"):
        combine([str(two_runs / "run1")], tmp_path / "e1", "e")
    registry = json.loads((two_runs / "run2" / "models.json").read_text())
    registry["models"][0]["preprocessing"]["image_size"] += 8
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "models.json").write_text(json.dumps({**registry, "models_dir": str(two_runs / "run2")}))
    with pytest.raises(InputError, match=f"{odd} differs from .* in preprocessing"):
        combine([str(two_runs / "run1"), str(odd)], tmp_path / "e2", "e")
    with pytest.raises(InputError, match="Not a classifier run"):
        combine([str(two_runs / "run1"), str(tmp_path)], tmp_path / "e3", "e")
