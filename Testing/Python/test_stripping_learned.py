"""The learned stripper: a tiny Residual UNet3D trained inside the test on synthetic heads reaches a Dice floor,
runs through the registry on inputs of any orientation, and the strip and train commands work end to end."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from BrainTumorAILab.stripping.training import load_strip_config, sample_seed
from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import InputError, ModelError
from BrainTumorAILib.core.image import load_image, reorient, save_image
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.postprocess import dice
from strip_models import TINY_CONFIG, train_tiny, write_strip_registry


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_strip")
    summary, weights = train_tiny(folder)
    return folder, summary, weights


@pytest.fixture
def registry(tiny, monkeypatch):
    folder, _, weights = tiny
    return write_strip_registry(folder, weights, monkeypatch)


def test_tiny_model_trained_on_phantoms_reaches_a_dice_floor(tiny):
    folder, summary, _ = tiny
    assert summary["validation_dice"] > 0.7
    history = json.loads((folder / "history.json").read_text())
    assert history[-1]["iteration"] == TINY_CONFIG["iterations"]
    assert summary["seed"] == TINY_CONFIG["seed"]


def test_training_samples_are_deterministic_and_distinct():
    assert sample_seed(4, 10) == sample_seed(4, 10) != sample_seed(4, 11) != sample_seed(5, 10)


@pytest.mark.parametrize("axcodes", ["RAS", "LPS", "LAS"])
def test_learned_mask_on_the_input_grid_for_any_orientation(registry, axcodes):
    phantom = make_phantom(31, shape=(64, 80, 60), spacing=(3.0, 3.0, 3.0))
    image = reorient(phantom.images["t1"], axcodes)
    result = strip_skull(image, modality="t1", device="cpu")
    assert result.card.id == "tiny-strip" and result.mask.same_grid(image)
    assert dice(result.mask.array, reorient(phantom.brain_mask, axcodes).array) > 0.6


def test_learned_mask_on_anisotropic_voxels(registry):
    phantom = make_phantom(32, shape=(100, 110, 28), spacing=(2.0, 2.0, 6.0))
    result = strip_skull(phantom.images["t2"], device="cpu")
    assert result.mask.same_grid(phantom.images["t2"])
    assert dice(result.mask.array, phantom.brain_mask.array) > 0.6


def test_already_stripped_input_keeps_its_whole_brain(registry):
    phantom = make_phantom(35, shape=(64, 80, 60), spacing=(3.0, 3.0, 3.0))
    brain = phantom.brain_mask.array > 0
    stripped = phantom.images["t1c"].with_array(np.where(brain, phantom.images["t1c"].array, 0).astype(np.float32))
    result = strip_skull(stripped, device="cpu")
    np.testing.assert_array_equal(result.mask.array > 0, brain)


def test_model_for_other_sequences_refuses_a_modality(tiny, monkeypatch):
    folder, _, weights = tiny
    write_strip_registry(folder, weights, monkeypatch, inputs=["t1"])
    with pytest.raises(ModelError, match="not flair"):
        strip_skull(make_phantom(1).images["flair"], modality="flair", device="cpu")


def test_strip_command_writes_mask_and_brain_on_the_input_grid(registry, tmp_path, capsys):
    phantom = make_phantom(33, shape=(64, 80, 60), spacing=(3.0, 3.0, 3.0))
    source = save_image(reorient(phantom.images["t1c"], "LPS"), tmp_path / "t1c.nrrd")
    before = source.read_bytes()
    code = main(["strip", "--image", str(source), "--modality", "t1c", "--mask", str(tmp_path / "mask.nii.gz"),
                 "--brain", str(tmp_path / "brain.nii.gz"), "--device", "cpu"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "learned" and report["model"] == "tiny-strip" and report["brain_ml"] > 100
    mask, image = load_image(tmp_path / "mask.nii.gz", label=True), load_image(source)
    assert mask.same_grid(image) and nib.load(tmp_path / "mask.nii.gz").get_data_dtype() == np.uint8
    assert load_image(tmp_path / "brain.nii.gz").same_grid(image)
    assert source.read_bytes() == before


def test_strip_command_classical_and_bad_input_write_nothing(tmp_path, capsys):
    phantom = make_phantom(34)
    source = save_image(phantom.images["t2"], tmp_path / "t2.nii.gz")
    assert main(["strip", "--image", str(source), "--method", "classical", "--mask", str(tmp_path / "m.nii.gz")]) == 0
    assert load_image(tmp_path / "m.nii.gz", label=True).same_grid(phantom.images["t2"])
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(source.read_bytes()[:2000])
    for bad in (broken, tmp_path / "missing.nii.gz"):
        out = tmp_path / f"mask-{bad.stem}.nii.gz"
        assert main(["strip", "--image", str(bad), "--method", "classical", "--mask", str(out)]) == 2
        assert str(bad) in capsys.readouterr().err
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.nii.gz", "m.nii.gz", "t2.nii.gz"]


def test_train_command_with_a_broken_config_names_it(tmp_path, capsys):
    config = tmp_path / "strip.json"
    config.write_text(json.dumps({"seed": 1}))
    assert main(["train", "strip", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "lacks" in capsys.readouterr().err and not (tmp_path / "run").exists()
    with pytest.raises(Exception, match="not found"):
        load_strip_config(tmp_path / "absent.json")


def test_a_head_cut_at_both_ends_loses_its_brain_there():
    from BrainTumorAILab.stripping.painting import Randomisation
    from BrainTumorAILab.stripping.synthesis import synthetic_head

    cut = Randomisation(spacing_mm=6.0, grid_shape=(32, 38, 32), fov_cut_prob=1.0, fov_cut_both_prob=1.0,
                        fov_cut_fraction=(0.25, 0.3), stripped_prob=0.0)
    whole = Randomisation(spacing_mm=6.0, grid_shape=(32, 38, 32), fov_cut_prob=0.0, stripped_prob=0.0)
    for seed in range(3):
        image, brain = synthetic_head(seed, cut)
        blank = [axis for axis in range(3) if all(
            not np.take(image, end, axis=axis).any() and not np.take(brain, end, axis=axis).any() for end in (0, -1))]
        assert blank, "no axis is blanked at both ends"
        assert brain.sum() < synthetic_head(seed, whole)[1].sum()


def test_a_resumed_run_reaches_the_weights_of_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    from BrainTumorAILab.stripping.training import train_stripper

    config = {**TINY_CONFIG, "validate_every": 6}
    train_stripper(config, tmp_path / "whole", device="cpu", progress=False, log=lambda line: None)

    def killed_at_the_second_validation(line: str) -> None:
        if json.loads(line)["iteration"] == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_stripper(config, tmp_path / "run", device="cpu", progress=False, log=killed_at_the_second_validation)
    with pytest.raises(InputError, match="another config"):
        train_stripper({**config, "lr": 0.01}, tmp_path / "run", device="cpu", progress=False,
                       log=lambda line: None, resume=True)
    summary = train_stripper(config, tmp_path / "run", device="cpu", progress=False, log=lambda line: None,
                             resume=True)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert summary["resumed"] and [record["iteration"] for record in history] == [6, 12]
    resumed = load_file(str(tmp_path / "run" / "weights.safetensors"))
    reference = load_file(str(tmp_path / "whole" / "weights.safetensors"))
    assert all(torch.allclose(resumed[key], reference[key], atol=1e-6) for key in reference)


def test_resume_without_a_checkpoint_is_refused(tmp_path, capsys):
    config = tmp_path / "strip.json"
    config.write_text(json.dumps(TINY_CONFIG))
    assert main(["train", "strip", "--config", str(config), "--out", str(tmp_path / "run"), "--resume"]) == 2
    assert "Nothing to resume" in capsys.readouterr().err


@pytest.mark.parametrize("degrees", [0.0, 17.0])  # an axis-aligned input grid, and an oblique one
def test_the_probability_zeroed_beyond_its_brain_s_box_gives_the_same_mask_on_the_input_grid(degrees):
    from scipy import ndimage

    from BrainTumorAILib.core.image import Image, resample_to
    from BrainTumorAILib.tasks.stripping.learned import _zeroed_beyond

    rng = np.random.default_rng(3)
    x, y, z = np.meshgrid(*[np.arange(n) - n / 2 for n in (40, 44, 38)], indexing="ij")
    brain = 1 / (1 + np.exp(np.sqrt((x / 9) ** 2 + (y / 11) ** 2 + (z / 8) ** 2) * 6 - 6))  # a brain's sigmoid
    noise = 0.1 * ndimage.gaussian_filter(rng.standard_normal(x.shape), 1)
    coarse = np.clip(brain + noise, 0, 1).astype(np.float32)
    coarse[:4], coarse[-4:] = 0, 0  # outside the head's box
    probability = Image(coarse, np.diag([3.0, 3.0, 3.0, 1.0]))
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([-1.1, 0.9, 1.3])
    affine[:3, 3] = [125.0, 5.0, 2.0]
    target = Image(np.zeros((110, 140, 90), np.float32), affine)
    for threshold in (0.5, 0.6, 0.8):
        zeroed = _zeroed_beyond(probability, threshold)
        assert np.count_nonzero(zeroed.array) < np.count_nonzero(probability.array)
        expected = resample_to(probability, target, fill=0.0).array > threshold
        assert expected.any()
        np.testing.assert_array_equal(resample_to(zeroed, target, fill=0.0).array > threshold, expected)
