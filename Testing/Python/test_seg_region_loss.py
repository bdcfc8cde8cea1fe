"""Region outputs with regions a labelling protocol draws otherwise left unsupervised (``loss.unlabelled_regions``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.losses import DiceCELoss, DiceLoss
from seg_training_data import CONFIGS, tiny_config, write_phantoms

from BrainTumorAILab.training.config import parse_config
from BrainTumorAILab.training.datasets import discover
from BrainTumorAILab.training.segmentation import (PatchEpoch, RegionLoss, collate, make_loss, prepare,
                                                   supervised_channels, train_segmentation)
from BrainTumorAILib.core.errors import InputError

REGIONS = {"activation": "sigmoid", "channels": ["WT", "TC", "ET"]}


def region_config(unlabelled: dict | None = None, **changes) -> dict:
    config = json.loads((CONFIGS / "tiny.json").read_text())
    config.update(outputs=REGIONS, loss={"name": "dice_ce", "params": {}, "unlabelled_regions": unlabelled or {}},
                  **changes)
    config["architecture"]["params"]["out_channels"] = 3
    return config


def test_it_is_dice_plus_binary_cross_entropy_per_region():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 3, 8, 8, 8, generator=generator)
    target = (torch.rand(3, 3, 8, 8, 8, generator=generator) > 0.7).float()
    expected = DiceLoss(sigmoid=True)(logits, target) + torch.nn.BCEWithLogitsLoss()(logits, target)
    assert float(RegionLoss()(logits, target)) == pytest.approx(float(expected), rel=1e-5)
    assert float(RegionLoss()(logits, target, torch.ones(3, 3))) == pytest.approx(float(expected), rel=1e-5)
    # MONAI's DiceCELoss agrees on one channel only: on several it takes the softmax cross-entropy across them
    one = (logits[:, :1], target[:, :1])
    assert float(RegionLoss()(*one)) == pytest.approx(float(DiceCELoss(sigmoid=True)(*one)), rel=1e-5)
    assert float(DiceCELoss(sigmoid=True)(logits, target)) != pytest.approx(float(expected), rel=1e-3)


def test_an_unsupervised_region_of_a_patch_gets_no_gradient_and_does_not_count():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 8, 8, 8, generator=generator, requires_grad=True)
    target = (torch.rand(2, 3, 8, 8, 8, generator=generator) > 0.7).float()
    supervised = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    loss = RegionLoss()(logits, target, supervised)
    loss.backward()
    assert not logits.grad[0, 1].any() and logits.grad[1, 1].abs().sum() > 0
    scrambled = target.clone()
    scrambled[0, 1] = 1 - scrambled[0, 1]  # the unsupervised labels may say anything
    assert float(RegionLoss()(logits.detach(), scrambled, supervised)) == pytest.approx(float(loss.detach()))


def test_the_config_names_conventions_and_channels_and_needs_region_outputs():
    config = parse_config(region_config({"brats2013": ["TC"]}))
    np.testing.assert_array_equal(supervised_channels("brats2013", config), [1, 0, 1])
    np.testing.assert_array_equal(supervised_channels("brats2021", config), [1, 1, 1])
    assert supervised_channels("brats2013", parse_config(region_config())) is None
    assert isinstance(make_loss(config), RegionLoss)
    for bad, message in (({"brats1999": ["TC"]}, "unknown label convention"),
                         ({"brats2013": ["core"]}, "must list output channels"),
                         ({"brats2013": "TC"}, "must list output channels")):
        with pytest.raises(InputError, match=message):
            parse_config(region_config(bad))
    softmax = json.loads((CONFIGS / "tiny.json").read_text())
    softmax["loss"] = {"name": "dice_ce", "params": {}, "unlabelled_regions": {"brats2013": ["necrosis"]}}
    with pytest.raises(InputError, match="needs sigmoid outputs"):
        parse_config(softmax)


def test_a_run_feeds_each_case_its_supervised_regions_and_trains(tmp_path):
    root = tmp_path / "cases"
    names = write_phantoms(root, [0, 1, 2])  # BraTS 2023 names
    schedule = json.loads(tiny_config(tmp_path, epochs=1, cases_per_epoch=2, validate_every=1).read_text())["schedule"]
    config = parse_config(region_config({"brats2023": ["TC"]}, schedule=schedule))
    cases = discover(root)
    epoch = PatchEpoch([prepare(case, config) for case in cases], config,
                       [supervised_channels(case.convention, config) for case in cases])
    batch = collate([epoch[0], epoch[1]])
    assert batch["supervised"].shape == (4, 3) and batch["supervised"][:, 1].eq(0).all()
    summary = train_segmentation(config, root, tmp_path / "run", [names[-1]], progress=False)
    assert set(summary["validation_dice"]) == {"WT", "TC", "ET", "mean"}
