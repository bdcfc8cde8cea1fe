"""Classifier v3 against the brightness shortcut: head framing, equalisation inside the head, the brightness-inverted
hold-out, the brightness-shift check, and a training run that reports both held-out sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from BrainTumorAILab.classification.shortcut import SHIFTS, brightness_shift_check
from BrainTumorAILab.classification.train import split_indices, train
from BrainTumorAILab.classification.twins import brightness_holdout
from BrainTumorAILib.tasks.classification.standardise import equalise, frame_head, head_mask_2d, standardise
from classification_models import class_image, tiny_config, write_dataset


def slice_image(seed: int, size: int = 96) -> np.ndarray:
    """A (size, size) head-like slice in [0, 1] from the test dataset's generator."""
    return class_image("glioma", np.random.default_rng(seed), size).astype(np.float32) / 255


def test_equalised_slices_do_not_change_with_brightness_gamma_or_gain():
    images = np.stack([slice_image(seed) for seed in range(4)])
    reference = equalise(images)
    for name, shift in SHIFTS.items():
        difference = np.abs(equalise(shift(images)) - reference).mean()
        assert difference < 0.03, name  # the raw shifts move each pixel by 0.05-0.07 on average
    raw = np.abs(standardise(SHIFTS["gamma_1.6"](images), "minmax") - images).mean()
    assert raw > 0.04  # without equalisation the shift reaches the network
    assert reference.max() <= 1 and reference.min() >= 0 and not reference[:, 0, 0].any()


def test_framing_crops_to_the_head_whatever_the_field_of_view():
    small = slice_image(1, 64)
    canvas = np.zeros((256, 256), np.float32)
    canvas[20:84, 150:214] = small  # the head in a corner of a wide field of view
    framed = frame_head(canvas)
    mask = head_mask_2d(framed)
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    assert max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 >= 0.85 * framed.shape[0]
    assert framed.shape[0] == framed.shape[1] < 80


def test_brightness_holdout_takes_bright_tumours_and_dark_healthy_groups_whole():
    labels = np.repeat([0, 2], 40)  # glioma, notumor
    groups = np.repeat(np.arange(40), 2)  # twin pairs
    brightness = np.tile(np.linspace(0, 1, 40), 2)[groups]
    held = brightness_holdout(groups, labels, brightness, 0.25, healthy_label=2)
    assert set(np.unique(groups[held])) == {group for group in np.unique(groups[held])
                                            if np.all(np.isin(np.nonzero(groups == group)[0], held))}
    tumour, healthy = held[labels[held] == 0], held[labels[held] == 2]
    assert len(tumour) == 10 and len(healthy) == 10
    assert brightness[tumour].min() >= np.quantile(brightness[labels == 0], 0.7)
    assert brightness[healthy].max() <= np.quantile(brightness[labels == 2], 0.3)


def test_half_of_the_brightness_holdout_trains_and_the_other_half_stays_held_out():
    labels = np.repeat([0, 2], 40)  # glioma, notumor
    groups = np.repeat(np.arange(40), 2)  # twin pairs
    images = np.stack([slice_image(index) * (0.3 + 0.7 * index / 80) for index in range(80)])
    split = {"kind": "twin_and_brightness", "validation_fraction": 0.2, "brightness_fraction": 0.3}
    whole = split_indices({"split": split}, images, labels, groups, seed=5)
    halves = [split_indices({"split": {**split, "brightness_half_trained": half}}, images, labels, groups, seed=5)
              for half in (0, 1)]
    held = [set(parts["brightness_holdout"]) for parts in halves]
    assert held[0].isdisjoint(held[1]) and held[0] | held[1] == set(whole["brightness_holdout"])
    for half, parts in enumerate(halves):
        assert set(parts["train"]) == set(whole["train"]) | held[1 - half]
        assert np.array_equal(parts["validation"], whole["validation"])
        assert not np.isin(groups[parts["brightness_holdout"]], groups[parts["train"]]).any()


def test_a_trained_half_needs_the_brightness_split(tmp_path):
    from BrainTumorAILab.classification.config import load_config
    from BrainTumorAILib.core.errors import InputError

    with pytest.raises(InputError, match="brightness_half_trained"):
        load_config(tiny_config(tmp_path, split={"kind": "twin", "brightness_half_trained": 0}))
    with pytest.raises(InputError, match="brightness_half_trained"):
        load_config(tiny_config(tmp_path, split={"kind": "twin_and_brightness", "brightness_half_trained": 2}))


def test_the_shift_check_catches_a_classifier_that_reads_brightness():
    images = np.stack([slice_image(seed) for seed in range(16)])
    labels = (images.mean(axis=(1, 2)) > np.median(images.mean(axis=(1, 2)))).astype(np.int64)
    centres = torch.tensor([0.0, 1.0, 2.0, 3.0])

    def reads_brightness(batch: torch.Tensor) -> torch.Tensor:
        level = batch.mean(dim=(1, 2)) > float(np.median(images.mean(axis=(1, 2))))
        return -(centres - level.float().unsqueeze(1)) ** 2

    fooled = brightness_shift_check(reads_brightness, images, labels, "minmax")
    assert fooled["accuracy"] == 1.0 and fooled["largest_drop_points"] >= 40
    half = images.shape[2] // 2

    def reads_anatomy(batch: torch.Tensor) -> torch.Tensor:  # the left half's share of bright pixels
        share = (batch[:, :, :half] > 0.5).float().mean(dim=(1, 2)) / (batch > 0.5).float().mean(dim=(1, 2))
        return torch.stack([share, 1 - share, share * 0, share * 0], 1)

    truth = reads_anatomy(torch.from_numpy(equalise(images))).argmax(1).numpy()
    steady = brightness_shift_check(reads_anatomy, images, truth, "head_equalised")
    assert steady["accuracy"] == 1.0 and steady["largest_drop_points"] <= 12.5


def test_training_reports_the_twin_and_the_brightness_holdout(tmp_path):
    data = write_dataset(tmp_path / "data", per_class=20)
    config = tiny_config(data, standardise="head_equalised", frame=True, schedule="cosine", selection="last",
                         epochs=3, split={"kind": "twin_and_brightness", "validation_fraction": 0.2,
                                          "brightness_fraction": 0.2})
    metrics = train(config, tmp_path / "run", threads=1, progress=False)
    assert metrics["held_out_images"]["validation"] > 0 and metrics["held_out_images"]["brightness_holdout"] >= 16
    assert metrics["epochs_run"] == metrics["best_epoch"] == 3
    assert set(metrics["validation_files"]).isdisjoint(metrics["brightness_holdout_files"])
    assert set(metrics["brightness_shift_check"]) == {"validation", "brightness_holdout"}
    assert set(metrics["brightness_shift_check"]["validation"]["shifted"]) == set(SHIFTS)
    assert "brightness_holdout_accuracy" in metrics["history"][-1]
    card = (tmp_path / "run" / "card.json").read_text()
    assert '"standardise": "head_equalised"' in card and '"frame": true' in card


def test_an_unknown_standardisation_is_refused_by_name(tmp_path):
    from BrainTumorAILab.classification.config import load_config
    from BrainTumorAILib.core.errors import InputError

    with pytest.raises(InputError, match="standardise 'zscore'"):
        load_config(tiny_config(tmp_path, standardise="zscore"))


def test_split_seed_holds_out_the_same_images_under_another_training_seed(tmp_path):
    from BrainTumorAILab.classification.config import load_config
    from BrainTumorAILib.core.errors import InputError

    data = write_dataset(tmp_path / "data", per_class=12)
    split = {"kind": "twin_and_brightness", "validation_fraction": 0.2, "brightness_fraction": 0.2,
             "brightness_half_trained": 0}
    held = {}
    for name, seed, split_seed in (("a", 3, None), ("b", 4, 3), ("c", 4, None)):
        config = tiny_config(data, epochs=1, seed=seed, split={**split, **({} if split_seed is None
                                                                           else {"seed": split_seed})})
        metrics = train(config, tmp_path / name, threads=1, progress=False)
        held[name] = (metrics["validation_files"], metrics["brightness_holdout_files"])
    assert held["b"] == held["a"] and held["c"] != held["a"]
    with pytest.raises(InputError, match="split.seed must be a whole number"):
        load_config(tiny_config(data, split={**split, "seed": "32"}))
