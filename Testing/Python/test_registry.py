"""The model registry: schema validation, resolution, checksums, safe loading, and `braintumorai models`."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import save_file

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import ModelError
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.core.weights import load_model, sha256_of, verify
from BrainTumorAILib.inference.networks import build_network

ARCHITECTURE = {"name": "monai.UNet", "params": {"in_channels": 2, "out_channels": 4, "channels": [4, 8],
                                                  "strides": [2]}}


def card(model_id="tiny-seg", task="segmentation", **weights):
    return {
        "id": model_id, "task": task, "title": "Tiny test model", "version": "1", "default": True,
        "architecture": copy.deepcopy(ARCHITECTURE), "inputs": ["flair", "t1c"],
        "outputs": {"activation": "softmax", "channels": ["background", "necrosis", "edema", "enhancing"]},
        "preprocessing": {"normalisation": "zscore"}, "inference": {},
        "weights": {"format": "safetensors", **weights}, "license": "Apache-2.0", "intended_use": "tests",
        "training": {}, "metrics": {},
    }


@pytest.fixture
def bundled(tmp_path):
    """A registry with one bundled model whose weights file is real and whose sha256 is right."""
    models = tmp_path / "Models"
    models.mkdir()
    torch.manual_seed(0)
    save_file(build_network(ARCHITECTURE).state_dict(), str(models / "tiny.safetensors"))
    entry = card(file="tiny.safetensors", sha256=sha256_of(models / "tiny.safetensors"),
                 size_bytes=(models / "tiny.safetensors").stat().st_size)
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"version": 1, "models_dir": "Models", "models": [entry]}))
    return path


def test_the_shipped_registry_validates():
    registry = Registry.load()
    assert registry.path.name == "models.json"
    for model in registry.cards:
        assert model.task in ("skull_stripping", "classification", "segmentation")


def test_resolve_by_id_and_by_task_default(bundled):
    registry = Registry.load(bundled)
    assert registry.resolve("segmentation").id == "tiny-seg"
    assert registry.resolve("segmentation", "tiny-seg").id == "tiny-seg"


def test_unknown_model_id_is_named(bundled):
    with pytest.raises(ModelError, match="Unknown model id 'nope'.*known: tiny-seg"):
        Registry.load(bundled).get("nope")


def test_model_of_another_task_is_refused(bundled):
    with pytest.raises(ModelError, match="is a segmentation model, not a classification model"):
        Registry.load(bundled).resolve("classification", "tiny-seg")


def test_no_model_for_a_task_is_an_error(bundled):
    with pytest.raises(ModelError, match="No model for task 'skull_stripping'"):
        Registry.load(bundled).default("skull_stripping")


@pytest.mark.parametrize("breakage, where", [
    (lambda data: data["models"][0].pop("inputs"), "models/0"),
    (lambda data: data["models"][0].update(task="dreaming"), "models/0/task"),
    (lambda data: data["models"][0]["weights"].update(sha256="xyz"), "models/0/weights/sha256"),
    (lambda data: data["models"][0]["weights"].pop("file"), "models/0/weights"),
    (lambda data: data.update(version=7), "version"),
])
def test_registry_that_fails_its_schema_is_refused_with_the_field(bundled, breakage, where):
    data = json.loads(bundled.read_text())
    breakage(data)
    bundled.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=f"fails its schema at '{where}'.*models.json"):
        Registry.load(bundled)


def test_repeated_ids_are_refused(bundled):
    data = json.loads(bundled.read_text())
    data["models"].append(data["models"][0])
    bundled.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="repeats the id"):
        Registry.load(bundled)


def test_registry_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "models.json"
    path.write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON.*models.json"):
        Registry.load(path)


def test_bundled_weights_load_into_their_network(bundled):
    network = load_model(Registry.load(bundled).get("tiny-seg"), progress=False)
    output = network(torch.zeros(1, 2, 8, 8, 8))
    assert output.shape == (1, 4, 8, 8, 8)
    assert not network.training


def test_weights_whose_sha256_differs_are_refused(bundled):
    model = Registry.load(bundled).get("tiny-seg")
    path = model.models_dir / "tiny.safetensors"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelError, match="fail their checksum.*tiny.safetensors"):
        verify(model)
    with pytest.raises(ModelError, match="fail their checksum"):
        load_model(model, progress=False)


def test_weights_that_do_not_fit_the_architecture_are_refused(bundled, tmp_path):
    data = json.loads(bundled.read_text())
    data["models"][0]["architecture"]["params"]["in_channels"] = 3
    bundled.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="do not fit its architecture monai.UNet"):
        load_model(Registry.load(bundled).get("tiny-seg"), progress=False)


def test_pickled_weights_are_not_unpickled(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "Models" / "evil.pt"
    path.parent.mkdir()
    torch.save({"state": Evil()}, path)
    entry = card(file="evil.pt", sha256=sha256_of(path), size_bytes=path.stat().st_size)
    entry["weights"]["format"] = "torch"
    registry_path = tmp_path / "models.json"
    registry_path.write_text(json.dumps({"version": 1, "models_dir": "Models", "models": [entry]}))
    with pytest.raises(ModelError, match="Cannot read the weights of model 'tiny-seg'"):
        load_model(Registry.load(registry_path).get("tiny-seg"), progress=False)


def test_cli_models_list_and_verify(bundled, capsys):
    assert main(["models", "--registry", str(bundled), "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed[0]["id"] == "tiny-seg" and listed[0]["weights"] == "bundled"
    assert main(["models", "--registry", str(bundled), "verify"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"


@pytest.mark.parametrize("arguments, message", [
    (["verify", "nope"], "Unknown model id 'nope'"),
    (["download", "nope"], "Unknown model id 'nope'"),
])
def test_cli_models_errors_exit_non_zero_with_one_line(bundled, capsys, arguments, message):
    assert main(["models", "--registry", str(bundled), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error


def test_cli_models_verify_rejects_a_changed_file(bundled, capsys):
    path = bundled.parent / "Models" / "tiny.safetensors"
    path.write_bytes(b"x" + path.read_bytes()[1:])
    assert main(["models", "--registry", str(bundled), "verify", "tiny-seg"]) == 2
    assert "fail their checksum" in capsys.readouterr().err


def test_cli_schema_failure_exits_non_zero(bundled, capsys):
    bundled.write_text(json.dumps({"version": 1, "models": [{"id": "x"}]}))
    assert main(["models", "--registry", str(bundled), "list"]) == 2
    assert "fails its schema" in capsys.readouterr().err
