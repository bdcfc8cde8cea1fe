"""The default segmenter's inputs: any intensity form gives the same labels; optional sequences may be missing."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILab.training.clinical import (RandBiasFieldd, RandChannelMisalignd, RandDropChannelsd, RandGammad,
                                               RandLesionContrastd, RandThickSlicesd, clinical_transforms)
from BrainTumorAILab.training.config import parse_config
from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image
from BrainTumorAILib.core.labels import regions
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.core.preprocess import dice, foreground_mask, robust_zscore
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.tasks.segmentation import segment_case
from BrainTumorAILib.tasks.segmentation.inputs import network_input, required_inputs

import torch


@pytest.fixture(scope="module")
def card():
    return Registry.load().resolve("segmentation", None)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=11, shape=(96, 96, 80), spacing=(2.0, 2.0, 2.0))


def stripped(phantom) -> dict[str, Image]:
    """The phantom's sequences as a skull-stripped study on scanner-like values (0 outside the brain)."""
    brain = phantom.brain_mask.array > 0
    return {name: image.with_array(np.where(brain, image.array * 1000.0 + 50.0, 0.0).astype(np.float32))
            for name, image in phantom.images.items()}


def forms(images: dict[str, Image]) -> dict[str, dict[str, Image]]:
    """One study as raw int16, z-scored over the brain with a constant non-zero background, uint8 and float64."""
    out: dict[str, dict[str, Image]] = {"int16": {}, "zscored": {}, "uint8": {}, "float64": {}}
    for name, image in images.items():
        values, brain = image.array, image.array > 0
        scaled = values / values.max()
        zscored = np.full(values.shape, -3.16, np.float32)
        zscored[brain] = (values[brain] - values[brain].mean()) / values[brain].std()
        out["int16"][name] = image.with_array(np.rint(values).astype(np.int16))
        out["zscored"][name] = image.with_array(zscored)
        out["uint8"][name] = image.with_array(np.rint(scaled * 255).astype(np.uint8))
        out["float64"][name] = image.with_array(scaled.astype(np.float64))
    return out


def test_the_default_model_takes_four_sequences_with_t1_and_t2_optional(card):
    assert card.inputs == ["flair", "t1", "t1c", "t2"]
    assert required_inputs(card) == ["flair", "t1c"]
    assert card.preprocessing["normalisation"] == "robust_zscore"


def test_robust_zscore_ignores_hot_voxels_and_the_background_constant(rng):
    brain = np.zeros((20, 20, 20), bool)
    brain[4:16, 4:16, 4:16] = True
    values = np.where(brain, rng.normal(100.0, 10.0, brain.shape), 0.0)
    spiked = values.copy()
    spiked[5, 5, 5] = 1e6  # one reconstruction spike
    shifted = np.where(brain, values, -3.16)
    np.testing.assert_allclose(robust_zscore(spiked)[brain & (spiked < 1e5)], robust_zscore(values)[brain & (spiked < 1e5)],
                               atol=0.02)
    np.testing.assert_allclose(robust_zscore(shifted, foreground_mask(shifted)), robust_zscore(values), atol=1e-5)


def test_four_intensity_forms_give_the_same_labels(card, phantom):
    results = {form: segment_case(Case(images, form), card=card, device="cpu").classes.array
               for form, images in forms(stripped(phantom)).items()}
    reference = regions(results["int16"])
    assert reference["WT"].any()
    for form, classes in results.items():
        found = regions(classes)
        assert np.mean(classes == results["int16"]) > 0.998, form
        for region in ("WT", "TC", "ET"):
            assert dice(found[region], reference[region]) > 0.97, (form, region)


def test_missing_optional_sequences_become_zero_channels(card, phantom):
    images = stripped(phantom)
    full, _ = network_input(images, card)
    partial, _ = network_input({name: images[name] for name in ("flair", "t1c")}, card)
    assert partial.shape == full.shape
    assert not partial[card.inputs.index("t1")].any() and not partial[card.inputs.index("t2")].any()
    for name in ("flair", "t1c"):
        np.testing.assert_allclose(partial[card.inputs.index(name)], full[card.inputs.index(name)], atol=1e-6)
    result = segment_case(Case({name: images[name] for name in ("flair", "t1c")}, "two"), card=card, device="cpu")
    assert result.classes.shape == images["t1c"].shape


def test_a_missing_required_sequence_is_a_clear_error(card, phantom):
    images = stripped(phantom)
    with pytest.raises(InputError, match=rf"lacks t1c that segmentation model '{card.id}' needs"):
        segment_case(Case({"flair": images["flair"], "t2": images["t2"]}, "no-t1c"), card=card, device="cpu")


def test_optional_inputs_must_be_inputs():
    raw = {"name": "x", "inputs": ["flair", "t1c"], "outputs": {"activation": "softmax", "channels": ["a", "b"]},
           "architecture": {"name": "monai.DynUNet", "params": {"in_channels": 2, "out_channels": 2}},
           "preprocessing": {"optional_inputs": ["t2"]}}
    with pytest.raises(InputError, match=r"optional_inputs \['t2'\] are not among the inputs"):
        parse_config(raw)


def patch(rng) -> dict[str, torch.Tensor]:
    image = np.zeros((4, 24, 24, 24), np.float32)
    image[:, 6:18, 6:18, 6:18] = rng.normal(0.0, 1.0, (4, 12, 12, 12))
    image[3] = 0.0  # a missing channel
    return {"image": torch.from_numpy(image)}


@pytest.mark.parametrize("transform", [RandThickSlicesd(1.0), RandChannelMisalignd(1.0), RandBiasFieldd(1.0),
                                       RandGammad(1.0)], ids=lambda t: type(t).__name__)
def test_clinical_augmentations_change_the_brain_only(rng, transform):
    sample = patch(rng)
    transform.set_random_state(seed=3)
    out = torch.as_tensor(transform(sample)["image"])
    assert out.shape == sample["image"].shape
    assert not out[3].any()  # a missing channel stays missing
    assert not out[:, :2].any() and not out[:, -2:].any()  # the background stays 0
    assert not torch.equal(out, sample["image"])


def test_lesion_contrast_fades_the_lesion_towards_the_brain_around_it(rng):
    sample = patch(rng)
    label = torch.zeros((1, 24, 24, 24), dtype=torch.uint8)
    label[0, 10:14, 10:14, 10:14] = 2
    sample["image"][:3, 10:14, 10:14, 10:14] += 3.0
    sample["label"] = label
    fade = RandLesionContrastd(1.0, factors=(0.4, 0.4))
    fade.set_random_state(seed=5)
    out = torch.as_tensor(fade(sample)["image"])
    lesion = label[0] > 0
    for channel in range(3):
        before = sample["image"][channel]
        reference = before[(before != 0) & ~lesion].median()
        torch.testing.assert_close(out[channel][lesion] - reference, 0.4 * (before[lesion] - reference))
        far = torch.ones_like(lesion)
        far[9:15, 9:15, 9:15] = False
        torch.testing.assert_close(out[channel][far], before[far])  # the brain away from the lesion is untouched
    assert not out[3].any()  # a missing channel stays missing
    assert torch.equal(fade({"image": sample["image"], "label": torch.zeros_like(label)})["image"], sample["image"])


def test_lesion_contrast_fades_only_the_named_sequences(rng):
    sample = patch(rng)
    label = torch.zeros((1, 24, 24, 24), dtype=torch.uint8)
    label[0, 10:14, 10:14, 10:14] = 1
    sample["label"] = label
    (fade,) = clinical_transforms({"lesion_contrast_prob": 1.0, "lesion_contrast_inputs": ["flair", "t2"]}, [],
                                  ["flair", "t1", "t1c", "t2"])
    fade.set_random_state(seed=2)
    out = torch.as_tensor(fade(sample)["image"])
    assert not torch.equal(out[0], sample["image"][0])
    torch.testing.assert_close(out[1:3], sample["image"][1:3])  # t1 and t1c keep the core's contrast
    with pytest.raises(InputError, match=r"lesion_contrast_inputs \['dwi'\] are not among the inputs"):
        clinical_transforms({"lesion_contrast_prob": 1.0, "lesion_contrast_inputs": ["dwi"]}, [], ["flair", "t1c"])


def test_dropped_channels_are_zeroed_and_one_always_stays(rng):
    sample = patch(rng)
    drop = RandDropChannelsd([0, 1, 2], 1.0)
    drop.set_random_state(seed=1)
    out = torch.as_tensor(drop(sample)["image"])
    present = [c for c in range(4) if out[c].any()]
    assert len(present) == 1
    torch.testing.assert_close(out[present[0]], sample["image"][present[0]])
