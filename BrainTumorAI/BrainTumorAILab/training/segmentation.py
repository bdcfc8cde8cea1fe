"""Segmentation training: patches from BraTS-style cases, MONAI losses, Adam + StepLR, early stopping on validation
Dice, optional weight averaging, checkpoints every epoch; one process or DistributedDataParallel under torchrun.

Weight averaging (``schedule.average_from``: epoch E) keeps the mean of the weights after each epoch from E on
(torch's AveragedModel, stochastic weight averaging) and, when training ends, recomputes its batch-norm statistics
over ``BATCH_NORM_BATCHES`` batches of fresh training patches (``update_bn``). One epoch's weights, and above all their
batch-norm running statistics (a moving average over the last few dozen patches), swing widely from epoch to epoch
when four cases are all there is; the average does not hang on where training stopped (on the default recipe it
evens out the seeds without raising their mean Dice: models.json, seed004-unet-brats2013).

``schedule.precision`` "bfloat16" runs each training forward pass under bfloat16 autocast (weights, optimiser,
loss, validation and the averaged batch-norm statistics stay float32): about twice the speed of float32 on a CPU
with AVX-512 BF16 (``python -m BrainTumorAILab.training.step_bench``). On a device without native bfloat16 (an AVX2
CPU, where it is 15x slower) the run trains in float32 and says so; ``training.json`` records both.

Outputs in ``out``: ``model.safetensors`` (the averaged weights when averaging ran, else the best weights so far:
best validation Dice, or the latest epoch when nothing is validated), ``checkpoint.pt`` (latest model, average,
optimiser and scheduler), ``history.json`` (loss and validation Dice per region per epoch) and ``training.json`` (the
run's summary: data, recipe, command, seed, metrics).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, update_bn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from BrainTumorAILib.core.atomic import atomic_path, write_json
from BrainTumorAILib.core.device import native_bfloat16, seed_everything
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.labels import regions
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.tasks.segmentation.inputs import network_input, optional_inputs
from . import distributed
from .augment import build_transform
from .config import SegmentationConfig
from .datasets import LabelledCase, discover, select
from .lesion_paste import LesionPaste
from .validation import PreparedCase, mean_dice, validate

BATCH_NORM_BATCHES = 64  # batches of training patches over which an average's batch-norm statistics are taken


def prepare(case: LabelledCase, config: SegmentationConfig) -> PreparedCase:
    """Load a case and bring images and labels to the network grid (the preprocessing inference uses)."""
    images, classes = case.load(config.inputs, optional_inputs(config.preprocessing))
    image, grid = network_input(images, config)
    return PreparedCase(case.name, image, grid.labels_to_network(classes), grid, classes)


def targets(label: torch.Tensor, outputs: dict[str, Any]) -> torch.Tensor:
    """Class-map patches (B, 1, ...) -> loss targets: class indices for softmax, region channels for sigmoid."""
    if outputs["activation"] == "softmax":
        return label.long()
    masks = regions(label[:, 0].numpy())
    return torch.from_numpy(np.stack([masks[name] for name in outputs["channels"]], axis=1).astype(np.float32))


class RegionLoss(torch.nn.Module):
    """Dice + binary cross-entropy of each (patch, region channel) pair, averaged over the pairs whose labels
    supervise that channel: logits and targets (B, C, I, J, K), ``supervised`` (B, C) of 1 or 0 (default all 1).

    Not MONAI's DiceCELoss(sigmoid=True): with more than one channel its cross-entropy term is the softmax one
    across the channels, which has nested regions compete and gives a background voxel (target 0, 0, 0) no
    cross-entropy at all; it applies binary cross-entropy to one-channel outputs only."""

    def __init__(self, **dice_params: Any):
        super().__init__()
        self.dice = DiceLoss(sigmoid=True, reduction="none", **dice_params)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, supervised: torch.Tensor | None = None
                ) -> torch.Tensor:
        dice = self.dice(logits, target).flatten(2).mean(2)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(2).mean(2)
        weight = torch.ones_like(dice) if supervised is None else supervised.to(dice)
        return ((dice + bce) * weight).sum() / weight.sum().clamp_min(1.0)


def supervised_channels(convention: str, config: SegmentationConfig) -> np.ndarray | None:
    """(C,) float32: 1 where labels of ``convention`` supervise an output channel, 0 where the config's
    ``loss.unlabelled_regions`` leaves it out (a labelling protocol that draws that region otherwise); None when
    the config leaves nothing out."""
    unlabelled = config.loss.get("unlabelled_regions") or {}
    if not unlabelled:
        return None
    left_out = set(unlabelled.get(convention, []))
    return np.array([channel not in left_out for channel in config.outputs["channels"]], dtype=np.float32)


def make_loss(config: SegmentationConfig) -> torch.nn.Module:
    """Dice + focal over softmax classes or sigmoid channels; Dice + cross-entropy over softmax classes, or Dice +
    binary cross-entropy over sigmoid channels (RegionLoss)."""
    softmax = config.outputs["activation"] == "softmax"
    params = dict(config.loss.get("params", {}))
    if config.loss["name"] == "dice_focal":
        return DiceFocalLoss(softmax=softmax, sigmoid=not softmax, to_onehot_y=softmax, **params)
    if not softmax:
        return RegionLoss(**params)
    return DiceCELoss(softmax=True, to_onehot_y=True, **params)


class PatchEpoch(Dataset):
    """Item i of epoch e: augmented patches of case ``i mod n``, random state seeded by (seed, e, i) alone, so a run
    is reproducible whatever the number of processes."""

    def __init__(self, cases: Sequence[PreparedCase], config: SegmentationConfig,
                 supervised: Sequence[np.ndarray | None] | None = None):
        self.cases, self.seed = list(cases), int(config.seed)
        self.supervised = list(supervised) if supervised is not None else [None] * len(self.cases)
        self.length = int(config.schedule["cases_per_epoch"])
        optional = optional_inputs(config.preprocessing)
        self.transform = build_transform(config.augmentation,
                                         [index for index, name in enumerate(config.inputs) if name in optional],
                                         config.inputs)
        paste = config.augmentation["lesion_paste"]
        self.paste = LesionPaste([case.image for case in self.cases], [case.label for case in self.cases],
                                 paste) if paste else None
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> list[dict[str, torch.Tensor]]:
        case_index = index % len(self.cases)
        case = self.cases[case_index]
        seed = (self.seed * 1_000_003 + self.epoch * 10_007 + index) % 2**32
        self.transform.set_random_state(seed=seed)
        image, label = case.image, case.label
        if self.paste is not None:
            image, label = self.paste(case_index, np.random.default_rng(seed))
        patches = self.transform({"image": image, "label": label[None]})
        supervised = self.supervised[case_index]
        extra = {} if supervised is None else {"supervised": torch.from_numpy(supervised)}
        return [{**{key: torch.as_tensor(value).as_subclass(torch.Tensor) for key, value in patch.items()}, **extra}
                for patch in patches]


def collate(items: list[list[dict[str, torch.Tensor]]]) -> dict[str, torch.Tensor]:
    """Patches of the batch's items stacked: "image", "label" and, when the epoch gives it, "supervised"."""
    patches = [patch for item in items for patch in item]
    return {key: torch.stack([patch[key] for patch in patches]) for key in ("image", "label", "supervised")
            if key in patches[0]}


def training_precision(asked: str, device: torch.device, speak: bool = True) -> str:
    """The forward pass's precision: ``asked``, except bfloat16 on a device without native bfloat16
    (``native_bfloat16``), where float32 is used, since emulated bfloat16 is many times slower; said on stderr."""
    if asked != "bfloat16" or native_bfloat16(device):
        return asked
    if speak:
        print(f"schedule.precision bfloat16: this {device.type} has no native bfloat16 arithmetic (AVX-512 BF16 or "
              "AMX on a CPU), where it runs many times slower than float32; training in float32",
              file=sys.stderr, flush=True)
    return "float32"


def save_weights(model: torch.nn.Module, path: Path) -> None:
    # clone: DynUNet lists each layer under two names (shared memory, which safetensors refuses)
    state = {key: value.detach().cpu().clone().contiguous() for key, value in model.state_dict().items()}
    with atomic_path(path) as temporary:
        save_file(state, str(temporary))


def train_segmentation(config: SegmentationConfig, data: str | os.PathLike, out: str | os.PathLike,
                       validate_on: Sequence[str] = (), *, device: str = "auto", progress: bool = True,
                       command: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Train ``config`` on the labelled cases under ``data`` except ``validate_on``; return the run summary.

    ``resume`` continues from ``out``'s checkpoint (weights, optimiser, scheduler, history) at the next epoch."""
    world = distributed.start(device)
    try:
        return _train(config, Path(data), Path(out), list(validate_on), world, progress, command, resume)
    finally:
        distributed.stop(world)


def _train(config: SegmentationConfig, data: Path, out: Path, validate_on: list[str], world: distributed.World,
           progress: bool, command: str | None, resume: bool) -> dict[str, Any]:
    started = time.monotonic()
    seed_everything(int(config.seed))
    cases = discover(data)
    held_out = select(cases, validate_on)
    training = [case for case in cases if case.name not in set(validate_on)]
    if not training:
        raise InputError(f"No training cases left under {data} after holding out {', '.join(validate_on)}")
    train_cases = [prepare(case, config) for case in training]
    valid_cases = [prepare(case, config) for case in held_out] if world.main else []

    network = build_network(config.architecture).to(world.device)
    optimiser = torch.optim.Adam(network.parameters(), lr=float(config.optimiser["lr"]),
                                 weight_decay=float(config.optimiser["weight_decay"]))
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=int(config.optimiser["step_size"]),
                                                gamma=float(config.optimiser["gamma"]))
    average_from = config.schedule.get("average_from")
    averaged = AveragedModel(network) if average_from else None
    history: list[dict[str, Any]] = []
    if resume:
        history = _restore(out, network, optimiser, scheduler, averaged)
    model = DistributedDataParallel(network) if world.distributed else network
    loss_function = make_loss(config)
    epoch_data = PatchEpoch(train_cases, config, [supervised_channels(case.convention, config) for case in training])
    sampler = DistributedSampler(epoch_data, shuffle=False) if world.distributed else None
    loader = DataLoader(epoch_data, batch_size=int(config.schedule["cases_per_batch"]), sampler=sampler,
                        num_workers=0, collate_fn=collate)
    schedule = config.schedule
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
    best, waited = _best_so_far(history)
    precision = training_precision(schedule["precision"], world.device, world.main)
    bfloat16 = precision == "bfloat16"  # validation, batch-norm statistics and inference stay float32
    for epoch in range(len(history), int(schedule["epochs"])):
        epoch_data.epoch = epoch
        model.train()
        losses = []
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{schedule['epochs']}", disable=not (progress and world.main),
                   file=sys.stderr, leave=False)
        for batch in bar:
            optimiser.zero_grad()
            with torch.autocast(world.device.type, dtype=torch.bfloat16, enabled=bfloat16):
                logits = model(batch["image"].to(world.device))
            supervised = (batch["supervised"].to(world.device),) if "supervised" in batch else ()
            loss = loss_function(logits.float(), targets(batch["label"], config.outputs).to(world.device),
                                 *supervised)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        scheduler.step()
        if averaged is not None and epoch + 1 >= int(average_from):
            averaged.update_parameters(network)
        record: dict[str, Any] = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                                  "seconds": round(time.monotonic() - started, 1)}
        stop = False
        if world.main:
            if valid_cases and (epoch + 1) % int(schedule["validate_every"]) == 0:
                per_case = validate(network, valid_cases, config, world.device)
                record["dice"] = mean_dice(per_case)
                record["per_case"] = per_case
                if record["dice"]["mean"] > best["score"]:
                    best = {"score": record["dice"]["mean"], "epoch": epoch + 1, "dice": record["dice"],
                            "per_case": per_case}
                    save_weights(network, out / "model.safetensors")
                    waited = 0
                else:
                    waited += 1
                stop = waited >= int(schedule["patience"])
            elif not valid_cases:
                best["epoch"] = epoch + 1
                save_weights(network, out / "model.safetensors")
            history.append(record)
            state = {"model": network.state_dict(), "optimiser": optimiser.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch + 1}
            if averaged is not None:
                state["averaged"] = averaged.state_dict()
            with atomic_path(out / "checkpoint.pt") as temporary:
                torch.save(state, temporary)
            write_json(history, out / "history.json")
            message = f"epoch {epoch + 1}: loss {record['loss']:.4f}"
            if "dice" in record:
                message += " | Dice " + " ".join(f"{k} {v:.3f}" for k, v in record["dice"].items())
            print(message, file=sys.stderr, flush=True)
        limit = schedule.get("max_minutes")
        stop = stop or (limit is not None and time.monotonic() - started > 60 * float(limit))
        if distributed.broadcast_flag(world, stop):
            break
    average = None
    if world.main and averaged is not None and int(averaged.n_averaged) > 0:
        average = _finish_average(averaged, epoch_data, config, valid_cases, world.device, out)
        average["from_epoch"] = int(average_from)
        average["to_epoch"] = len(history)
    summary = {
        "config": config.raw, "data": str(data), "train_cases": [case.name for case in training],
        "validation_cases": validate_on, "seed": int(config.seed), "command": command,
        "epochs_run": len(history) if world.main else None, "resumed": resume, "best_epoch": best["epoch"],
        "validation_dice": best["dice"], "validation_per_case": best["per_case"], "averaged": average,
        "processes": world.size, "precision": {"asked": schedule["precision"], "used": precision},
        "seconds": round(time.monotonic() - started, 1),
    }
    if world.main:
        write_json(summary, out / "training.json")
    return summary


def _finish_average(averaged: AveragedModel, epoch_data: PatchEpoch, config: SegmentationConfig,
                    valid_cases: list[PreparedCase], device: torch.device, out: Path) -> dict[str, Any]:
    """Recompute the averaged network's batch-norm statistics over fresh training patches, validate it,
    and save it as the run's ``model.safetensors``; -> {"epochs": snapshots averaged, "dice", "per_case"}."""
    network = averaged.module
    loader = DataLoader(epoch_data, batch_size=int(config.schedule["cases_per_batch"]), num_workers=0,
                        collate_fn=collate)

    def patches() -> Iterator[torch.Tensor]:
        for extra in range(-(-BATCH_NORM_BATCHES // len(loader))):
            epoch_data.epoch = int(config.schedule["epochs"]) + extra  # patches no epoch trained on
            yield from (batch["image"] for batch in loader)

    update_bn(patches(), network, device=device)
    result: dict[str, Any] = {"epochs": int(averaged.n_averaged), "dice": None, "per_case": None}
    if valid_cases:
        result["per_case"] = validate(network, valid_cases, config, device)
        result["dice"] = mean_dice(result["per_case"])
        print("averaged weights: Dice " + " ".join(f"{k} {v:.3f}" for k, v in result["dice"].items()),
              file=sys.stderr, flush=True)
    save_weights(network, out / "model.safetensors")
    return result


def _restore(out: Path, network: torch.nn.Module, optimiser: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, averaged: AveragedModel | None
             ) -> list[dict[str, Any]]:
    """Load ``out``'s checkpoint into the training state; return the history of the epochs it holds."""
    path = out / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"Nothing to resume: no checkpoint in {out}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    network.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    scheduler.load_state_dict(state["scheduler"])
    if averaged is not None and "averaged" in state:
        averaged.load_state_dict(state["averaged"])
    history = json.loads((out / "history.json").read_text())
    return history[: int(state["epoch"])]


def _best_so_far(history: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """The best validated epoch of ``history`` and how many validations came after it."""
    best: dict[str, Any] = {"score": -1.0, "epoch": None, "dice": None, "per_case": None}
    waited = 0
    for record in history:
        if "dice" not in record:
            continue
        if record["dice"]["mean"] > best["score"]:
            best = {"score": record["dice"]["mean"], "epoch": record["epoch"], "dice": record["dice"],
                    "per_case": record["per_case"]}
            waited = 0
        else:
            waited += 1
    if best["epoch"] is None and history:
        best["epoch"] = history[-1]["epoch"]
    return best, waited
