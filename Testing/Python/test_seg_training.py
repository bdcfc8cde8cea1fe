"""Segmentation training: dataset discovery in the three naming schemes, configs, a tiny run on phantoms that must
learn, and determinism from the seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from seg_training_data import CONFIGS, write_case, write_phantoms, tiny_config

from BrainTumorAILab.training.augment import build_transform
from BrainTumorAILab.training.config import load_config, parse_config
from BrainTumorAILab.training.datasets import discover, select
from BrainTumorAILab.training import segmentation
from BrainTumorAILab.training.segmentation import train_segmentation
from BrainTumorAILab.training.trained import card_of_run
from BrainTumorAILab.training.validation import region_dice
from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import load_image
from BrainTumorAILib.core.labels import from_convention
from BrainTumorAILib.inference.networks import build_network

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _classes() -> np.ndarray:
    classes = np.zeros((8, 8, 6), dtype=np.uint8)
    classes[2:6, 2:6, 1:5] = 2
    classes[3:5, 3:5, 2:4] = 3
    classes[3, 3, 2] = 1
    return classes


@pytest.mark.parametrize("scheme, sequences", [
    ("brats2013", {"flair", "t1c"}), ("brats2020", {"flair", "t1c", "t1"}), ("brats2023", {"flair", "t1c", "t2"}),
])
def test_discovery_finds_images_and_labels_in_each_scheme(tmp_path, scheme, sequences):
    images = {name: np.arange(384, dtype=np.float32).reshape(8, 8, 6) + i for i, name in enumerate(sequences)}
    write_case(tmp_path / "cohort" / "case_b", scheme, images, _classes(), AFFINE)
    write_case(tmp_path / "cohort" / "case_a", scheme, images, np.zeros((8, 8, 6), np.uint8), AFFINE)

    cases = discover(tmp_path)

    assert [case.name for case in cases] == ["case_a", "case_b"]
    assert set(cases[1].images) == sequences
    loaded, classes = cases[1].load(["flair", "t1c"])
    np.testing.assert_array_equal(classes, _classes())  # every scheme's labels read back as classes 0..3
    assert np.array_equal(loaded["t1c"].array, images["t1c"])


def test_discovery_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="No labelled cases"):
        discover(tmp_path)
    write_case(tmp_path / "only", "brats2023", {"flair": np.ones((8, 8, 6)) * np.arange(6)}, _classes(), AFFINE)
    cases = discover(tmp_path)
    with pytest.raises(InputError, match="lacks t1c"):
        cases[0].load(["flair", "t1c"])
    with pytest.raises(InputError, match="Unknown validation case"):
        select(cases, ["nobody"])


def test_shipped_configs_parse_and_build():
    for path in sorted(CONFIGS.glob("*.json")):
        config = load_config(path)
        network = build_network(config.architecture)
        assert sum(p.numel() for p in network.parameters()) > 0, path


def test_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        load_config(bad)
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["architecture"]["params"]["out_channels"] = 3
    with pytest.raises(InputError, match="out_channels"):
        parse_config(config)
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["loss"]["name"] = "hinge"
    with pytest.raises(InputError, match="Unknown loss"):
        parse_config(config)
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["augmentation"]["negatives"] = "skull"
    with pytest.raises(InputError, match="Unknown augmentation.negatives 'skull'"):
        parse_config(config)
    for ratios in ([1, 1, 1], [0, 0, 0, 0], [1, -1, 1, 1], "even"):
        config = json.loads((CONFIGS / "tiny.json").read_text())
        config["augmentation"]["class_ratios"] = ratios
        with pytest.raises(InputError, match="class_ratios must be 4 non-negative weights"):
            parse_config(config)


@pytest.mark.parametrize("negatives", ["anywhere", "brain"])
def test_background_patches_are_centred_where_the_config_says(negatives):
    """A 40^3 grid with a 20^3 brain in its middle: patches of 8^3 centred "anywhere" off the tumour include empty
    ones, patches centred in the "brain" always hold brain (at least the eighth a corner centre gives)."""
    augmentation = dict(parse_config(json.loads((CONFIGS / "tiny.json").read_text())).augmentation,
                        patch_size=[8, 8, 8], samples_per_case=200, pos=0.0, neg=1.0, negatives=negatives,
                        affine_prob=0.0, noise_prob=0.0, intensity_prob=0.0)  # nothing that fills empty voxels
    image = np.zeros((2, 40, 40, 40), dtype=np.float32)
    image[:, 10:30, 10:30, 10:30] = np.random.default_rng(0).normal(size=(2, 20, 20, 20))
    label = np.zeros((1, 40, 40, 40), dtype=np.uint8)
    label[0, 18:22, 18:22, 18:22] = 1
    transform = build_transform(augmentation)
    transform.set_random_state(0)
    patches = transform({"image": image, "label": label})
    brain_share = [float((np.asarray(patch["image"]) != 0).any(0).mean()) for patch in patches]
    assert len(patches) == 200 and all(set(patch) == {"image", "label"} for patch in patches)
    if negatives == "brain":
        assert min(brain_share) >= 0.12
    else:
        assert min(brain_share) == 0.0


def test_class_ratios_centre_patches_on_the_classes_they_weight():
    """A label map whose oedema is 27x its necrosis: pos:neg centres follow the volume, class ratios [0, 1, 1, 0]
    centre half the patches on the small necrotic core and none on background or the absent enhancing class."""
    base = parse_config(json.loads((CONFIGS / "tiny.json").read_text())).augmentation
    plain = dict(base, patch_size=[5, 5, 5], samples_per_case=400, flip_prob=0.0, affine_prob=0.0, noise_prob=0.0,
                 intensity_prob=0.0)
    label = np.zeros((1, 40, 40, 40), dtype=np.uint8)
    label[0, 10:19, 10:19, 10:19] = 2
    label[0, 30:33, 30:33, 30:33] = 1
    sample = {"image": np.ones((2, 40, 40, 40), dtype=np.float32), "label": label}

    def centres(augmentation):
        transform = build_transform(augmentation)
        transform.set_random_state(0)
        return np.array([int(np.asarray(patch["label"])[0, 2, 2, 2]) for patch in transform(dict(sample))])

    by_volume = centres(dict(plain, pos=1.0, neg=0.0))
    by_class = centres(dict(plain, class_ratios=[0, 1, 1, 0]))
    assert set(by_volume) == {1, 2} and (by_volume == 1).mean() < 0.1
    assert set(by_class) == {1, 2} and 0.4 < (by_class == 1).mean() < 0.6


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    root = tmp_path_factory.mktemp("phantoms")
    return root, write_phantoms(root, [11, 12, 13, 14])


def test_tiny_training_learns_the_phantom_tumour(phantoms, tmp_path):
    root, names = phantoms
    out = tmp_path / "run"
    summary = train_segmentation(load_config(tiny_config(tmp_path)), root, out, [names[-1]], progress=False)

    history = json.loads((out / "history.json").read_text())
    assert summary["train_cases"] == names[:-1] and summary["validation_cases"] == [names[-1]]
    assert history[-1]["loss"] < history[0]["loss"]
    # held-out phantom: the whole tumour is found, far above an empty or all-brain guess
    assert summary["validation_dice"]["WT"] >= 0.6, summary["validation_dice"]
    assert (out / "model.safetensors").is_file() and (out / "checkpoint.pt").is_file()
    written = json.loads((out / "training.json").read_text())
    assert written["best_epoch"] == summary["best_epoch"]

    # the run's weights through the shipped `segment` command score what the training's validation measured
    predicted = tmp_path / "held-out-seg.nii.gz"
    assert main(["segment", "--trained", str(out), "--case", str(root / names[-1]), "--device", "cpu",
                 "-o", str(predicted)]) == 0
    truth = select(discover(root), [names[-1]])[0].load(["flair"])[1]
    scores = region_dice(from_convention(load_image(predicted, label=True).array), truth)
    assert scores == pytest.approx(summary["validation_per_case"][names[-1]], abs=1e-6)


def test_bfloat16_training_runs_the_forward_pass_in_bfloat16(phantoms, tmp_path, monkeypatch):
    """Real bfloat16 arithmetic, whatever the CPU (emulated where it is not native, so only three epochs)."""
    root, names = phantoms
    monkeypatch.setattr(segmentation, "native_bfloat16", lambda device: True)
    seen = []
    monkeypatch.setattr(segmentation, "build_network", _recording_output_dtypes(segmentation.build_network, seen))
    out = tmp_path / "run"
    summary = train_segmentation(load_config(tiny_config(tmp_path, precision="bfloat16", epochs=3)), root, out,
                                 [names[-1]], progress=False)
    history = json.loads((out / "history.json").read_text())
    assert summary["precision"] == {"asked": "bfloat16", "used": "bfloat16"}
    assert set(seen) == {torch.bfloat16}  # every training forward pass ran under bfloat16 autocast
    assert all(np.isfinite(record["loss"]) for record in history) and history[-1]["loss"] < history[0]["loss"]
    weights = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    assert {value.dtype for value in weights.values() if value.is_floating_point()} == {torch.float32}
    with pytest.raises(InputError, match="schedule.precision must be one of float32, bfloat16"):
        load_config(tiny_config(tmp_path, precision="float16"))


def test_bfloat16_without_native_support_trains_in_float32_and_says_so(phantoms, tmp_path, monkeypatch, capsys):
    root, names = phantoms
    monkeypatch.setattr(segmentation, "native_bfloat16", lambda device: False)
    summary = train_segmentation(load_config(tiny_config(tmp_path, precision="bfloat16", epochs=1)), root,
                                 tmp_path / "run", [names[-1]], progress=False)
    assert summary["precision"] == {"asked": "bfloat16", "used": "float32"}
    assert "no native bfloat16 arithmetic" in capsys.readouterr().err
    assert segmentation.training_precision("float32", torch.device("cpu")) == "float32"


def _recording_output_dtypes(build_network, seen: list):
    """``build_network`` whose networks record the dtype of each output they give."""
    def wrapped(architecture):
        network = build_network(architecture)
        network.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
        return network
    return wrapped


def test_segment_with_a_folder_that_is_no_training_run_fails_clearly(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["segment", "--trained", str(tmp_path / "run"), "--flair", "f.nii.gz", "-o",
                 str(tmp_path / "x.nii.gz")]) == 2
    assert "Not a finished training run (no training.json)" in capsys.readouterr().err
    assert not (tmp_path / "x.nii.gz").exists()


def test_same_seed_gives_the_same_weights(phantoms, tmp_path):
    root, names = phantoms
    config = load_config(tiny_config(tmp_path, epochs=2, cases_per_epoch=2))
    first = load_file(str(_train(config, root, tmp_path / "a") / "model.safetensors"))
    second = load_file(str(_train(config, root, tmp_path / "b") / "model.safetensors"))
    assert first.keys() == second.keys()
    assert all(np.array_equal(first[key].numpy(), second[key].numpy()) for key in first)
    other = dict(config.raw, seed=config.seed + 1)
    third = load_file(str(_train(parse_config(other), root, tmp_path / "c") / "model.safetensors"))
    assert not all(np.array_equal(first[key].numpy(), third[key].numpy()) for key in first)


def _train(config, root, out, validate_on=()):
    train_segmentation(config, root, out, validate_on, progress=False)
    return out


@pytest.mark.parametrize("average_from", [None, 2])
def test_resume_continues_where_the_checkpoint_stopped(phantoms, tmp_path, average_from):
    root, _ = phantoms
    schedule = {"cases_per_epoch": 2, "average_from": average_from}
    straight = _train(load_config(tiny_config(tmp_path, epochs=3, **schedule)), root, tmp_path / "straight")
    out = _train(load_config(tiny_config(tmp_path, epochs=2, **schedule)), root, tmp_path / "resumed")
    summary = train_segmentation(load_config(tiny_config(tmp_path, epochs=3, **schedule)), root, out,
                                 progress=False, resume=True)
    assert summary["epochs_run"] == 3 and summary["resumed"]
    if average_from:  # the average carried over in the checkpoint: epochs 2 and 3, as in the straight run
        assert summary["averaged"]["epochs"] == 2
    assert [record["epoch"] for record in json.loads((out / "history.json").read_text())] == [1, 2, 3]
    first = load_file(str(straight / "model.safetensors"))
    second = load_file(str(out / "model.safetensors"))
    assert all(np.array_equal(first[key].numpy(), second[key].numpy()) for key in first)


def test_weight_averaging_saves_the_mean_of_the_epochs_with_fresh_batch_norm_statistics(phantoms, tmp_path):
    root, names = phantoms
    raw = json.loads(tiny_config(tmp_path, epochs=1, cases_per_epoch=2).read_text())
    raw["architecture"]["params"]["norm_name"] = "batch"
    one_epoch = _checkpoint(_train(parse_config(raw), root, tmp_path / "one", [names[-1]]))
    raw["schedule"].update(epochs=2, average_from=1)
    out = _train(parse_config(raw), root, tmp_path / "averaged", [names[-1]])
    two_epochs, averaged = _checkpoint(out), load_file(str(out / "model.safetensors"))

    summary = json.loads((out / "training.json").read_text())
    assert {key: summary["averaged"][key] for key in ("epochs", "from_epoch", "to_epoch")} == {
        "epochs": 2, "from_epoch": 1, "to_epoch": 2}
    assert set(summary["averaged"]["dice"]) == {"WT", "TC", "ET", "mean"}
    assert card_of_run(out).metrics["validation_dice"] == summary["averaged"]["dice"]  # the saved weights' Dice
    learned = [key for key in averaged if "running_" not in key and "num_batches" not in key]
    assert learned and all(np.allclose(averaged[key].numpy(), (one_epoch[key] + two_epochs[key]).numpy() / 2,
                                       atol=1e-6) for key in learned)
    # batch-norm statistics recomputed on patches: neither the last epoch's nor the untouched 0 / 1 of the copy
    means = [key for key in averaged if key.endswith("running_mean")]
    assert means and not any(np.array_equal(averaged[key].numpy(), two_epochs[key].numpy()) for key in means)
    assert all(np.abs(averaged[key].numpy()).max() > 0 for key in means)


def _checkpoint(out):
    return torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]


@pytest.mark.parametrize("average_from", [0, 3, "1"])
def test_average_from_must_be_an_epoch_of_the_run(average_from):
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["schedule"].update(epochs=2, average_from=average_from)
    with pytest.raises(InputError, match="schedule.average_from must be an epoch from 1 to 2"):
        parse_config(config)


def test_resume_without_checkpoint_is_an_error(phantoms, tmp_path):
    root, _ = phantoms
    with pytest.raises(InputError, match="Nothing to resume"):
        train_segmentation(load_config(tiny_config(tmp_path, epochs=1)), root, tmp_path / "empty", resume=True)


def test_sigmoid_whole_tumour_recipe_trains_and_scores_wt_only(phantoms, tmp_path):
    root, names = phantoms
    config = json.loads(tiny_config(tmp_path, epochs=1, cases_per_epoch=2, validate_every=1).read_text())
    config.update(inputs=["flair"], outputs={"activation": "sigmoid", "channels": ["WT"]},
                  loss={"name": "dice_ce", "params": {}})
    config["architecture"]["params"].update(in_channels=1, out_channels=1)
    summary = train_segmentation(parse_config(config), root, tmp_path / "wt", [names[-1]], progress=False)
    assert set(summary["validation_dice"]) == {"WT", "mean"}


def test_cross_validation_trains_a_fold_per_case_and_reuses_finished_folds(phantoms, tmp_path, capsys):
    root, names = phantoms
    config = tiny_config(tmp_path, epochs=2, cases_per_epoch=2, validate_every=1, average_from=2)
    out = tmp_path / "study"
    arguments = ["train", "cross-validate", "--config", str(config), "--data", str(root), "--out", str(out),
                 "--folds", names[0], names[1], "--no-progress"]
    assert main(arguments) == 0
    study = json.loads((out / "cross_validation.json").read_text())
    assert list(study["per_case"]) == names[:2]
    for name in names[:2]:
        fold = json.loads((out / f"fold-{name}" / "training.json").read_text())
        assert fold["validation_cases"] == [name] and fold["train_cases"] == [n for n in names if n != name]
        scores = study["per_case"][name]
        assert scores["best"] == fold["validation_per_case"][name] and scores["last_epoch"] == 2
        assert scores["averaged"] == fold["averaged"]["per_case"][name]
    for which in ("last", "averaged"):
        assert study["mean"][which]["WT"] == pytest.approx(np.mean([study["per_case"][n][which]["WT"]
                                                                    for n in names[:2]]))
    rows = (out / "cross_validation.csv").read_text().splitlines()
    assert rows[0] == "case,epochs,epoch,WT,TC,ET" and len(rows) == 7

    weights = out / f"fold-{names[0]}" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert main(arguments) == 0 and weights.stat().st_mtime_ns == stamp  # finished folds are not retrained
    summary_path = out / f"fold-{names[0]}" / "training.json"
    older = json.loads(summary_path.read_text())
    del older["config"]["augmentation"]["class_ratios"]  # a fold from before that option existed, at its default
    summary_path.write_text(json.dumps(older))
    assert main(arguments) == 0 and weights.stat().st_mtime_ns == stamp
    capsys.readouterr()
    assert main([*arguments, "--seed", "99"]) == 2
    assert "trained with another config" in capsys.readouterr().err
    assert main(["train", "cross-validate", "--config", str(config), "--data", str(root), "--out",
                 str(tmp_path / "other"), "--folds", "nobody"]) == 2
    assert "No case nobody" in capsys.readouterr().err and not (tmp_path / "other").exists()
