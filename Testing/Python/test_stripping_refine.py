"""The stripper's edge refinement: its grid and input, the simulated coarse probability it trains with, its training
on real heads (resumable) and the two-stage card stripping a real head through the registry. The parts that need the
shared heads skip without them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from BrainTumorAILab.stripping.edges import edge_sample, load_edge_heads, randomisation_of, simulated_prior, train_refiner
from BrainTumorAILab.stripping.training import sample_seed
from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, load_image
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.postprocess import dice
from BrainTumorAILib.tasks.stripping.refine import MARGIN_MM, fine_grid, refinement_input

HEAD = "heads/AOMIC"
TINY = {
    "name": "tiny-refined", "stage": "edge_refinement", "seed": 5, "coarse_model": "resunet3d-stripper-synth",
    "architecture": {"name": "ResidualUNet3D",
                     "params": {"in_channels": 2, "out_channels": 1, "features": [4, 8, 16], "dropout": [0.0, 0.0]}},
    "spacing_mm": 1.5, "source_spacing_mm": 2.0, "crop": [24, 24, 24], "batch_size": 2, "iterations": 20,
    "lr": 0.02, "validation_patches": 2, "validate_every": 10, "real_heads": [HEAD],
}


def sphere(shape: tuple[int, int, int], radius: float) -> np.ndarray:
    grid = np.indices(shape) - (np.array(shape) - 1)[:, None, None, None] / 2
    return np.sqrt((grid**2).sum(axis=0)) <= radius


def test_the_fine_grid_covers_the_coarse_brain_and_its_margin():
    probability = np.zeros((20, 24, 20), dtype=np.float32)
    probability[5:12, 6:15, 4:9] = 0.9
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = (-30.0, -40.0, -20.0)
    grid = fine_grid(Image(probability, affine), 1.5, 8)
    assert np.allclose(np.diag(grid.affine)[:3], 1.5) and all(n % 8 == 0 for n in grid.shape)
    low, high = affine[:3, 3] + 3.0 * np.array([5, 6, 4]), affine[:3, 3] + 3.0 * np.array([11, 14, 8])
    corners = grid.corners_ras()
    assert np.all(corners.min(axis=0) <= low - MARGIN_MM + 1e-6)
    assert np.all(corners.max(axis=0) >= high + MARGIN_MM - 1e-6)
    assert np.all(corners.max(axis=0) - corners.min(axis=0) <= high - low + 2 * MARGIN_MM + 8 * 1.5)


def test_the_refinement_input_does_not_depend_on_the_scanner_range():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (24, 24, 24)).astype(np.float32)
    prior = sphere(image.shape, 8).astype(np.float32)
    plain, scanner = refinement_input(image, prior), refinement_input(image * 3000.0 + 200.0, prior)
    assert plain.shape == (2, 24, 24, 24)
    np.testing.assert_allclose(plain, scanner, atol=1e-4)
    np.testing.assert_array_equal(plain[1], prior)


def test_the_simulated_coarse_edge_errs_by_no_more_than_its_shift():
    mask = sphere((48, 48, 48), 14)
    distance = ndimage.distance_transform_edt(~mask) + ndimage.distance_transform_edt(mask)
    for seed in range(4):
        prior = simulated_prior(np.random.default_rng(seed), mask, 1.5, 4.0)
        wrong = (prior > 0.5) != mask
        assert 0.0 <= prior.min() and prior.max() <= 1.0
        assert wrong.any() and distance[wrong].max() * 1.5 <= 4.0 * 1.5 + 3.0


@pytest.fixture(scope="module")
def edge_heads(data_dir):
    if not (data_dir / HEAD).is_dir():
        pytest.skip(f"{HEAD} not found under {data_dir}")
    return load_edge_heads(TINY, data_dir)


def test_edge_samples_straddle_the_brain_edge_and_repeat_by_seed(edge_heads):
    randomisation = randomisation_of(TINY)
    shares = []
    for index in range(8):
        inputs, mask = edge_sample(sample_seed(5, index), edge_heads, TINY, randomisation)
        again, _ = edge_sample(sample_seed(5, index), edge_heads, TINY, randomisation)
        np.testing.assert_array_equal(inputs, again)
        assert inputs.shape == (2, 24, 24, 24) and mask.shape == (24, 24, 24)
        shares.append(mask.mean())
    assert sum(0.02 < share < 0.98 for share in shares) >= 6  # the grid's centre is shifted by about 6 mm


def test_a_refiner_trains_resumes_and_strips_a_real_head_through_its_card(data_dir, edge_heads, tmp_path,
                                                                          monkeypatch):
    from safetensors.torch import load_file

    train_refiner(TINY, tmp_path / "whole", device="cpu", progress=False, log=lambda line: None, data=data_dir)

    def killed_at_the_second_validation(line: str) -> None:
        if json.loads(line)["iteration"] == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_refiner(TINY, tmp_path / "run", device="cpu", progress=False, log=killed_at_the_second_validation,
                      data=data_dir)
    summary = train_refiner(TINY, tmp_path / "run", device="cpu", progress=False, log=lambda line: None,
                            data=data_dir, resume=True)
    assert summary["resumed"] and summary["validation_patch_dice"] > 0.6
    resumed = load_file(str(tmp_path / "run" / "refinement.safetensors"))
    reference = load_file(str(tmp_path / "whole" / "refinement.safetensors"))
    assert all(torch.allclose(resumed[key], reference[key], atol=1e-6) for key in reference)

    head = data_dir / HEAD
    image = load_image(next(head.glob("*_T1w.nii*")))
    truth = load_image(next(head.glob("*_brainmask.nii*")), label=True).array
    coarse = strip_skull(image, modality="t1", model_id="resunet3d-stripper-synth", device="cpu", guard=False)
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(tmp_path / "run" / "models.json"))
    refined = strip_skull(image, modality="t1", device="cpu", guard=False)
    assert refined.card.id == "tiny-refined" and refined.mask.same_grid(image)
    assert not np.array_equal(refined.mask.array, coarse.mask.array)
    assert dice(refined.mask.array, truth) > 0.5  # a 20-step network: on the brain, not yet on its edge


def test_refinement_options_are_checked(tmp_path, capsys):
    config = tmp_path / "refine.json"
    config.write_text(json.dumps({**TINY, "stage": "edges"}))
    assert main(["train", "strip", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "Unknown stripper training stage 'edges'" in capsys.readouterr().err
    config.write_text(json.dumps({key: value for key, value in TINY.items() if key != "coarse_model"}))
    assert main(["train", "strip", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "coarse_model" in capsys.readouterr().err
    coarse = tmp_path / "coarse.json"
    coarse.write_text(json.dumps({key: value for key, value in TINY.items() if key != "stage"} |
                                 {"preprocessing": {"spacing_mm": 3.0}}))
    assert main(["train", "strip", "--config", str(coarse), "--out", str(tmp_path / "run"),
                 "--coarse-model", "resunet3d-stripper-synth"]) == 2
    assert "--coarse-model is for edge-refinement configs" in capsys.readouterr().err


def test_a_refinement_config_without_heads_data_is_refused(tmp_path):
    with pytest.raises(InputError, match="No \\*_T1w image"):
        train_refiner({**TINY, "real_heads": ["nowhere"]}, tmp_path / "run", device="cpu", progress=False,
                      data=tmp_path)
