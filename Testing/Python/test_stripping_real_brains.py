"""Synthetic heads built around real (here: phantom-made, already stripped) brains for the learned stripper."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from BrainTumorAILab.stripping.painting import Randomisation
from BrainTumorAILab.stripping.real_brains import SOURCE_SPACING_MM, load_real_brains, real_brain_head
from BrainTumorAILab.stripping.synthesis import synthetic_head
from BrainTumorAILab.stripping.training import real_brains_of
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, reorient, save_image
from BrainTumorAILib.core.phantom import AIR, GREY, make_phantom

SMALL = dict(spacing_mm=4.0, grid_shape=(48, 56, 48), stripped_prob=0.0, fov_cut_prob=0.0)


@pytest.fixture(scope="module")
def stripped_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    """A BraTS-like stripped case folder in LPS (t1 and t2, zero outside the brain) and its brain volume in mL."""
    data = tmp_path_factory.mktemp("data")
    phantom = make_phantom(11, shape=(96, 112, 96), spacing=(2.0, 2.0, 2.0))
    brain = phantom.brain_mask.array > 0
    for sequence in ("t1", "t2"):
        image = phantom.images[sequence]
        save_image(reorient(image.with_array(np.where(brain, image.array, 0.0)), "LPS"),
                   data / "case" / f"case_{sequence}.nii.gz")
    return str(data), float(brain.sum() * 8.0 / 1000.0)


def test_a_stripped_case_gives_its_brain_and_unit_scaled_sequences(stripped_case):
    data, millilitres = stripped_case
    (brain,) = load_real_brains(data, ["case"])
    assert len(brain.images) == 2
    assert brain.mask.sum() * SOURCE_SPACING_MM**3 / 1000.0 == pytest.approx(millilitres, rel=0.05)
    for image in brain.images:
        assert image.shape == brain.mask.shape
        assert np.all(image[~brain.mask] == 0) and 0.0 <= image.min() and image.max() <= 1.2
        assert np.percentile(image[brain.mask], 50) > 0.1


def test_a_brainmask_file_is_the_brain(stripped_case, tmp_path):
    data, _ = stripped_case
    (whole,) = load_real_brains(data, ["case"])
    case = tmp_path / "case"
    case.mkdir()
    phantom = make_phantom(11, shape=(96, 112, 96), spacing=(2.0, 2.0, 2.0))
    eroded = ndimage.binary_erosion(phantom.brain_mask.array > 0, iterations=3)
    save_image(phantom.images["t1"], case / "t1.nii.gz")
    save_image(Image(eroded.astype(np.uint8), phantom.images["t1"].affine), case / "brainmask.nii.gz")
    (brain,) = load_real_brains(tmp_path, ["case"])
    assert 0.5 * whole.mask.sum() < brain.mask.sum() < 0.9 * whole.mask.sum()


def test_missing_brain_folders_are_named(stripped_case, tmp_path):
    data, _ = stripped_case
    with pytest.raises(InputError, match="case-not-there"):
        load_real_brains(data, ["case-not-there"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No MRI sequence found in .*empty"):
        load_real_brains(tmp_path, ["empty"])
    with pytest.raises(InputError, match="--data"):
        real_brains_of({"real_brains": ["case"]}, None)
    assert real_brains_of({}, None) == []


def test_the_head_wraps_the_posed_brain_in_tissue(stripped_case):
    data, _ = stripped_case
    (brain,) = load_real_brains(data, ["case"])
    source_ml = brain.mask.sum() * SOURCE_SPACING_MM**3 / 1000.0
    for seed in range(3):
        labels, interior, mask = real_brain_head(np.random.default_rng(seed), brain, (64, 72, 64), 3.0, seed == 1)
        assert np.array_equal(labels == GREY, mask)
        assert 0.6 < mask.sum() * 27.0 / 1000.0 / source_ml < 1.5  # scaled by 0.88-1.12 per axis
        assert np.all(interior[~mask] == 0) and interior[mask].mean() > 0.1
        touching = ndimage.binary_dilation(mask) & ~mask
        assert not np.any(touching & (labels == AIR)), "air right next to the brain"


def test_heads_around_real_brains_are_deterministic_and_leave_the_others_alone(stripped_case):
    data, _ = stripped_case
    brains = load_real_brains(data, ["case"])
    real = Randomisation(**SMALL, real_brain_prob=1.0)
    image, mask = synthetic_head(5, real, brains)
    again, mask_again = synthetic_head(5, real, brains)
    assert np.array_equal(image, again) and np.array_equal(mask, mask_again)
    assert image.shape == mask.shape == SMALL["grid_shape"] and mask.sum() > 1000
    assert not np.array_equal(mask, synthetic_head(5, real)[1])  # the head is built around the given brain
    phantom_only = Randomisation(**SMALL)
    for seed in (5, 6):
        assert np.array_equal(synthetic_head(seed, phantom_only)[0], synthetic_head(seed, phantom_only, brains)[0])


def test_training_draws_heads_around_the_configured_brains(stripped_case, tmp_path):
    from BrainTumorAILab.stripping.training import train_stripper
    from strip_models import TINY_CONFIG

    data, _ = stripped_case
    config = {**TINY_CONFIG, "iterations": 2, "validate_every": 2, "real_brains": ["case"],
              "synthesis": {**TINY_CONFIG["synthesis"], "real_brain_prob": 0.5}}
    summary = train_stripper(config, tmp_path, device="cpu", progress=False, log=lambda line: None, data=data)
    assert summary["real_brains"] == ["case"] and summary["synthesis"]["real_brain_prob"] == 0.5
    assert (tmp_path / "weights.safetensors").is_file()
    with pytest.raises(InputError, match="--data"):
        train_stripper(config, tmp_path / "again", device="cpu", progress=False, log=lambda line: None)
    assert not (tmp_path / "again").exists()
