"""Ensembles: the network averages its members' probabilities exactly, and `train ensemble` turns training runs into
one run folder that `segment --trained` uses like any other, refusing members that do not fit together."""

from __future__ import annotations

import json

import pytest
import torch
from seg_training_data import tiny_config, write_phantoms

from BrainTumorAILab.training.ensemble import combine_runs
from BrainTumorAILab.training.trained import card_of_run
from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.weights import load_model
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.inference.networks.ensemble import MeanProbabilityEnsemble

MEMBER = {"name": "monai.BasicUNet", "params": {"in_channels": 2, "out_channels": 3, "features": [4, 4, 8, 8, 16, 4]}}


def _members(count: int) -> list[torch.nn.Module]:
    members = []
    for seed in range(count):
        torch.manual_seed(seed)
        members.append(build_network(MEMBER).eval())
    return members


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_the_ensemble_gives_the_mean_of_its_members_probabilities(activation):
    members = _members(3)
    ensemble = MeanProbabilityEnsemble(members, activation).eval()
    batch = torch.randn(2, 2, 32, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        logits = [member(batch) for member in members]
        combined = ensemble(batch)
    if activation == "softmax":
        expected, got = torch.stack([z.softmax(1) for z in logits]).mean(0), combined.softmax(1)
    else:
        expected, got = torch.stack([z.sigmoid() for z in logits]).mean(0), combined.sigmoid()
    assert got.shape == (2, 3, 32, 32, 32)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(logits[0].softmax(1), logits[1].softmax(1))  # the members really differ


def test_an_ensemble_card_entry_builds_and_refuses_nonsense():
    network = build_network({"name": "ensemble", "params": {"network": MEMBER, "members": 2}})
    assert len(network.members) == 2
    with pytest.raises(Exception, match="at least one member"):
        build_network({"name": "ensemble", "params": {"network": MEMBER, "members": 0}})
    with pytest.raises(Exception, match="Unknown ensemble activation"):
        build_network({"name": "ensemble", "params": {"network": MEMBER, "members": 2, "activation": "relu"}})


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny training runs of one recipe under different seeds."""
    root = tmp_path_factory.mktemp("ensemble")
    names = write_phantoms(root / "data", [21, 22])
    config = tiny_config(root, epochs=1, cases_per_epoch=2)
    runs = [root / "run1", root / "run2"]
    for seed, run in zip((1, 2), runs):
        assert main(["train", "segmentation", "--config", str(config), "--data", str(root / "data"), "--out",
                     str(run), "--seed", str(seed), "--no-progress"]) == 0
    return root, names, runs


def test_train_ensemble_writes_a_run_that_segments(two_runs, tmp_path, capsys):
    root, names, runs = two_runs
    out = tmp_path / "ensemble"
    assert main(["train", "ensemble", "--runs", *map(str, runs), "--out", str(out)]) == 0
    summary = json.loads((out / "training.json").read_text())
    assert [member["seed"] for member in summary["members"]] == [1, 2]
    assert summary["config"]["architecture"]["params"]["members"] == 2

    card = card_of_run(out)
    ensemble, members = load_model(card, progress=False), [load_model(card_of_run(run), progress=False)
                                                          for run in runs]
    batch = torch.randn(1, 2, 16, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = torch.stack([member(batch).softmax(1) for member in members]).mean(0)
        torch.testing.assert_close(ensemble(batch).softmax(1), expected, atol=1e-5, rtol=1e-4)

    capsys.readouterr()
    written = tmp_path / "seg.nii.gz"
    assert main(["segment", "--trained", str(out), "--case", str(root / "data" / names[0]), "--device", "cpu",
                 "-o", str(written)]) == 0
    assert written.is_file() and json.loads(capsys.readouterr().out)["model"]["id"] == "run:ensemble"


def test_members_that_do_not_fit_together_are_refused(two_runs, tmp_path):
    root, _, runs = two_runs
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "model.safetensors").write_bytes((runs[1] / "model.safetensors").read_bytes())
    summary = json.loads((runs[1] / "training.json").read_text())
    summary["config"]["preprocessing"]["spacing_mm"] = [2.0, 2.0, 2.0]
    (odd / "training.json").write_text(json.dumps(summary))
    out = tmp_path / "ensemble"
    with pytest.raises(InputError, match=f"{odd} differs from .* in preprocessing"):
        combine_runs([runs[0], odd], out)
    with pytest.raises(InputError, match="at least two"):
        combine_runs([runs[0]], out)
    with pytest.raises(InputError, match="Not a finished training run"):
        combine_runs([runs[0], tmp_path], out)
    assert not out.exists()
