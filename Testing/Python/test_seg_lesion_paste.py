"""Lesion copy-paste between training cases: the donor's lesion arrives whole with its labels and values, only in
the recipient's brain and channels, never from a donor lacking a channel, reproducibly; configs that cannot be are
refused; a tiny run with it trains."""

from __future__ import annotations

import json

import numpy as np
import pytest
from seg_training_data import CONFIGS, tiny_config, write_phantoms

from BrainTumorAILab.training.config import load_config, parse_config
from BrainTumorAILab.training.lesion_paste import LesionPaste
from BrainTumorAILab.training.datasets import discover
from BrainTumorAILab.training.segmentation import PatchEpoch, prepare, train_segmentation
from BrainTumorAILib.core.errors import InputError

SETTINGS = {"prob": 1.0, "margin_voxels": [1, 3], "feather_voxels": 2}
SHAPE = (40, 40, 40)


def _ball(radius: float, centre: tuple[int, int, int] = (20, 20, 20)) -> np.ndarray:
    grid = np.indices(SHAPE) - np.array(centre)[:, None, None, None]
    return (grid**2).sum(0) <= radius**2


def _case(channels: int, present: int, brain_value: float, lesion: np.ndarray | None = None,
          lesion_value: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A (channels, 40, 40, 40) image whose first ``present`` channels hold a brain ball; label 2 on ``lesion``."""
    brain = _ball(16)
    image = np.zeros((channels, *SHAPE), dtype=np.float32)
    label = np.zeros(SHAPE, dtype=np.uint8)
    image[:present][:, brain] = brain_value
    if lesion is not None:
        image[:present][:, lesion] = lesion_value
        label[lesion] = 2
    return image, label


def test_the_donor_lesion_arrives_whole_inside_the_recipient_brain_and_channels():
    recipient, recipient_label = _case(3, 2, 1.0)
    lesion = _ball(4, (14, 20, 22))
    donor, donor_label = _case(3, 3, 2.0, lesion, 5.0)
    before = recipient.copy(), recipient_label.copy()
    paste = LesionPaste([recipient, donor], [recipient_label, donor_label], SETTINGS)
    image, label = paste(0, np.random.default_rng(3))
    assert np.array_equal(recipient, before[0]) and np.array_equal(recipient_label, before[1])  # not in place
    assert np.count_nonzero(label == 2) == np.count_nonzero(lesion)  # a small ball fits the brain whole
    assert np.all(image[:2][:, label == 2] == 5.0)
    assert not image[2].any()  # the channel the recipient lacks stays missing
    assert not image[:, ~_ball(16)].any()  # nothing in the air
    assert np.any((image[0] > 1.0) & (image[0] <= 2.0) & (label == 0))  # donor tissue around it, blended in
    again = paste(0, np.random.default_rng(3))
    assert np.array_equal(again[0], image) and np.array_equal(again[1], label)
    other = paste(0, np.random.default_rng(4))
    assert not np.array_equal(other[1], label)


def test_no_donor_lacking_a_channel_of_the_recipient_and_no_paste_without_a_lesion():
    full, full_label = _case(2, 2, 1.0, _ball(3), 4.0)
    partial, partial_label = _case(2, 1, 1.0, _ball(3), 4.0)
    healthy, healthy_label = _case(2, 2, 1.0)
    paste = LesionPaste([full, partial, healthy], [full_label, partial_label, healthy_label], SETTINGS)
    assert paste.donors(0) == [] and paste.donors(1) == [0] and paste.donors(2) == [0]
    image, label = paste(0, np.random.default_rng(0))
    assert image is full and label is full_label
    never = LesionPaste([healthy, full], [healthy_label, full_label], dict(SETTINGS, prob=0.0))
    assert never(0, np.random.default_rng(0))[1] is healthy_label


@pytest.mark.parametrize("bad", [{"prob": 2.0, "margin_voxels": [0, 4], "feather_voxels": 2},
                                 {"prob": 0.5, "margin_voxels": [4, 0], "feather_voxels": 2},
                                 {"prob": 0.5, "margin_voxels": [0, 4], "feather_voxels": 0},
                                 {"prob": 0.5}, "yes"])
def test_lesion_paste_settings_that_cannot_be_are_refused(bad):
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config["augmentation"]["lesion_paste"] = bad
    with pytest.raises(InputError, match="augmentation.lesion_paste must be"):
        parse_config(config)


def test_training_epochs_paste_lesions_and_a_tiny_run_trains(tmp_path):
    """With pasting at probability 1 an epoch's case carries more tumour than its own (phantoms: one lesion each)."""
    names = write_phantoms(tmp_path / "data", [1, 2, 3])
    path = tiny_config(tmp_path, epochs=2, validate_every=1)
    config = json.loads(path.read_text())
    config["augmentation"]["lesion_paste"] = SETTINGS
    path.write_text(json.dumps(config))
    cases = [prepare(case, load_config(path)) for case in discover(tmp_path / "data")]
    epoch = PatchEpoch(cases, load_config(path))
    _, label = epoch.paste(0, np.random.default_rng(0))
    assert np.count_nonzero(label) > np.count_nonzero(cases[0].label)
    plain = PatchEpoch(cases, parse_config(dict(config, augmentation=dict(config["augmentation"], lesion_paste=None))))
    pasted_patches, plain_patches = epoch[0], plain[0]  # same seeds: the paste alone makes them differ
    assert any(not np.array_equal(a["label"], b["label"]) for a, b in zip(pasted_patches, plain_patches))
    summary = train_segmentation(load_config(path), tmp_path / "data", tmp_path / "run", [names[0]],
                                 device="cpu", progress=False)
    assert summary["epochs_run"] == 2 and (tmp_path / "run" / "model.safetensors").is_file()
