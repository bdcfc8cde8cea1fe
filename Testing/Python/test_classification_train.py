"""The classifier trainer on generated images, and classify-images over a folder that holds bad files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image as PILImage

from BrainTumorAILab.classification.train import train
from BrainTumorAILib.cli import main
from BrainTumorAILib.inference.networks import build_network
from classification_models import tiny_config, tiny_registry, write_dataset  # noqa: F401 (fixture)


def test_training_learns_generated_classes_and_writes_a_card(tiny_registry):
    registry, metrics = tiny_registry
    assert metrics["complete"] and metrics["validation_images_with_twin_in_train"] == 0
    assert metrics["validation"]["accuracy"] >= 0.75
    assert np.array(metrics["validation"]["confusion_matrix"]).sum() == metrics["validation_images"]
    card = json.loads(registry.read_text())["models"][0]
    assert card["task"] == "classification" and card["outputs"]["classes"][2] == "notumor"


def test_training_is_deterministic_and_kl_loss_runs(tmp_path):
    data = write_dataset(tmp_path / "data", per_class=6, seed=1)
    config = tiny_config(data, epochs=1, loss={"name": "kl_divergence", "label_smoothing": 0.1})
    first = train(config, tmp_path / "a", threads=1, progress=False)
    second = train(config, tmp_path / "b", threads=1, progress=False)
    assert first["history"][0]["train_loss"] == second["history"][0]["train_loss"]
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_seed004_vgg_head_has_the_documented_layers():
    import torch

    network = build_network({"name": "vgg16_gap", "params": {"width": 0.125}})
    linear = [m.out_features for m in network.head if isinstance(m, torch.nn.Linear)]
    assert linear == [64, 32, 16, 4]
    assert network(torch.rand(2, 3, 128, 128)).shape == (2, 4)


def test_classify_images_skips_bad_files_and_writes_every_good_one(tiny_registry, tmp_path, capsys):
    folder = write_dataset(tmp_path / "images", per_class=2, seed=5)
    (folder / "glioma" / "broken.jpg").write_bytes(b"not an image")
    PILImage.fromarray(np.zeros((1, 1), np.uint8)).save(folder / "notumor" / "dot.png")
    out = tmp_path / "out.csv"
    assert main(["classify-images", str(folder), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8
    assert list(rows[0]) == ["path", "label", "p_glioma", "p_meningioma", "p_notumor", "p_pituitary"]
    for row in rows:
        probabilities = [float(row[f"p_{name}"]) for name in ("glioma", "meningioma", "notumor", "pituitary")]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] in ("glioma", "meningioma", "notumor", "pituitary")
    errors = capsys.readouterr().err
    assert "broken.jpg" in errors and "dot.png" in errors


def test_classify_images_with_only_bad_files_fails_clearly(tiny_registry, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    assert main(["classify-images", str(bad), "--csv", str(tmp_path / "out.csv")]) == 2
    assert "No image could be classified" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_init_from_continues_a_run_and_a_missing_file_is_named(tmp_path):
    from BrainTumorAILib.core.errors import InputError

    data = write_dataset(tmp_path / "data", per_class=6, seed=2)
    train(tiny_config(data, epochs=1), tmp_path / "first", threads=1, progress=False)
    weights = tmp_path / "first" / "model.safetensors"
    second = train(tiny_config(data, epochs=1, init_from=str(weights)), tmp_path / "second", threads=1,
                   progress=False)
    assert second["complete"] and second["epochs_run"] == 1
    with pytest.raises(InputError, match="init_from weights not found.*nowhere.safetensors"):
        train(tiny_config(data, epochs=1, init_from=str(tmp_path / "nowhere.safetensors")), tmp_path / "third",
              threads=1, progress=False)
