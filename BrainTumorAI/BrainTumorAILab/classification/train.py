"""Train a 2D tumour-type classifier from a config: twin-aware split, augmentation, plateau LR, early stopping.

Writes into ``out_dir`` after every epoch: ``model.safetensors`` (the best epoch's weights), ``metrics.json``
(history, confusion matrix, per-class recall, the twin report and the split), ``card.json`` (a models.json entry,
ready to bundle) and ``models.json`` (a registry of that one model, so ``BRAINTUMORAI_MODELS=RUN/models.json``
classifies with it as deployed), so a stopped run keeps its best epoch.
Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from BrainTumorAILib.core.atomic import atomic_path, write_json
from BrainTumorAILib.core.device import seed_everything, set_threads
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.weights import sha256_of
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.tasks.classification.dataset import CLASSES, Sample, find_samples, load_arrays
from BrainTumorAILib.tasks.classification.predict import network_input
from BrainTumorAILib.tasks.classification.standardise import head_mask_2d, standardise
from .augment import Augmentation, augment, strip_skulls
from .config import data_dir, load_config, resolve
from .shortcut import brightness_shift_check
from .twins import brightness_holdout, group_split, random_split, twin_pairs, twin_report, union_find_groups


BN_CALIBRATION_IMAGES = 640


@dataclasses.dataclass
class Evaluation:
    """Validation figures: loss, accuracy, confusion matrix (rows = truth, columns = prediction), recall per class."""

    loss: float
    accuracy: float
    confusion: list[list[int]]
    recall: dict[str, float]

    @classmethod
    def of(cls, logits: torch.Tensor, labels: torch.Tensor) -> "Evaluation":
        predictions = logits.argmax(1)
        confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
        np.add.at(confusion, (labels.numpy(), predictions.numpy()), 1)
        totals = confusion.sum(1)
        recall = {name: round(float(confusion[i, i] / totals[i]), 4) if totals[i] else float("nan")
                  for i, name in enumerate(CLASSES)}
        return cls(loss=float(F.cross_entropy(logits, labels)), accuracy=float((predictions == labels).float().mean()),
                   confusion=confusion.tolist(), recall=recall)


def select_samples(samples: list[Sample], per_class: int | None, seed: int) -> list[Sample]:
    """At most ``per_class`` samples of each class (a seeded choice), for tiny test runs."""
    if not per_class:
        return samples
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(len(CLASSES)):
        members = [sample for sample in samples if sample.label == label]
        order = sorted(rng.permutation(len(members))[:per_class])
        chosen.extend(members[i] for i in order)
    return chosen


def loss_function(config: dict[str, Any], labels: np.ndarray):
    """Cross-entropy, or seed 004's KL divergence to (optionally smoothed) one-hot targets; optional class weights."""
    settings = config["loss"]
    weights = None
    if settings.get("class_weights") == "balanced":
        counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
        weights = torch.tensor(counts.sum() / (len(CLASSES) * np.maximum(counts, 1)), dtype=torch.float32)
    smoothing = float(settings.get("label_smoothing", 0.0))

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if settings["name"] == "cross_entropy":
            return F.cross_entropy(logits, target, weight=weights, label_smoothing=smoothing)
        soft = F.one_hot(target, len(CLASSES)).float() * (1 - smoothing) + smoothing / len(CLASSES)
        per_sample = F.kl_div(F.log_softmax(logits, 1), soft, reduction="none").sum(1)
        if weights is not None:
            per_sample = per_sample * weights[target]
        return per_sample.mean()

    return loss


def recalibrate_batch_norm(network: torch.nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Recompute every batch-norm layer's running statistics on clean (N, S, S) training images ("precise BN").

    The running averages gathered during an epoch lag behind weights that are still moving fast, which made the
    eval-mode network collapse onto one class while the same weights scored well with batch statistics.
    """
    layers = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the calibration batches
    network.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            network(network_input(images[start:start + batch_size]))
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def predict_logits(network: torch.nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, S, S) images -> (N, classes) logits, in eval mode without gradients."""
    network.eval()
    with torch.no_grad():
        return torch.cat([network(network_input(images[i:i + batch_size]))
                          for i in range(0, len(images), batch_size)])


def extra_training_data(config: dict[str, Any], progress: bool) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The ``extra_data`` folders' images (N, S, S), each repeated as its entry says, their labels (N,) and
    {folder: images before repetition}."""
    size = int(config["image_size"])
    images, labels, counts = [np.zeros((0, size, size), np.float32)], [np.zeros(0, np.int64)], {}
    for entry in config["extra_data"]:
        folder = resolve(entry["path"])
        found, found_labels = load_arrays(find_samples(folder), size, progress=progress, frame=bool(config["frame"]))
        repeat = int(entry.get("repeat", 1))
        images.append(np.tile(found, (repeat, 1, 1)))
        labels.append(np.tile(found_labels, repeat))
        counts[entry["path"]] = len(found)
    return np.concatenate(images), np.concatenate(labels), counts


def split_indices(config: dict[str, Any], images: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                  seed: int) -> dict[str, np.ndarray]:
    """Index arrays ``train`` and ``validation`` (and ``brightness_holdout`` for ``twin_and_brightness``)."""
    kind, fraction = config["split"]["kind"], float(config["split"]["validation_fraction"])
    if kind == "random":
        train_index, val_index = random_split(len(images), labels, fraction, seed)
        return {"train": train_index, "validation": val_index}
    if kind == "twin":
        train_index, val_index = group_split(groups, labels, fraction, seed)
        return {"train": train_index, "validation": val_index}
    brightness = np.array([image[head_mask_2d(image)].mean() if image.any() else 0.0 for image in images])
    held = brightness_holdout(groups, labels, brightness, float(config["split"]["brightness_fraction"]),
                              CLASSES.index("notumor"))
    rest = np.setdiff1d(np.arange(len(images)), held)
    train_part, val_part = group_split(groups[rest], labels[rest], fraction, seed)
    train_index = rest[train_part]
    trained_half = config["split"].get("brightness_half_trained")
    if trained_half is not None:  # one half of the hold-out (whole twin groups) trains, the other stays held out
        halves = group_split(groups[held], labels[held], 0.5, seed)
        train_index = np.sort(np.concatenate([train_index, held[halves[int(trained_half)]]]))
        held = held[halves[1 - int(trained_half)]]
    return {"train": train_index, "validation": rest[val_part], "brightness_holdout": held}


def make_optimiser(config: dict[str, Any], network: torch.nn.Module):
    """The optimiser and the learning-rate schedule of a config (``schedule``: plateau or cosine)."""
    settings = config["optimiser"]
    if settings["name"] == "sgd":
        optimiser = torch.optim.SGD(network.parameters(), lr=settings["lr"], momentum=settings["momentum"],
                                    weight_decay=settings["weight_decay"])
    else:
        optimiser = torch.optim.AdamW(network.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    if config["schedule"] == "cosine":
        return optimiser, torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=int(config["epochs"]))
    plateau = config["reduce_lr"]
    return optimiser, torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, mode="min", factor=plateau["factor"], patience=plateau["patience"], min_lr=plateau["min_lr"])


def train(config_source: str | os.PathLike | dict[str, Any], out_dir: str | os.PathLike, *,
          threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Run one training; return the metrics written to ``out_dir/metrics.json``."""
    config = load_config(config_source)
    out_dir = Path(out_dir)
    threads_used = set_threads(threads or config.get("threads"))
    seed = int(config["seed"])
    seed_everything(seed)
    started = time.perf_counter()

    samples = select_samples(find_samples(data_dir(config)), config["max_images_per_class"], seed)
    images, labels = load_arrays(samples, int(config["image_size"]), progress=progress, frame=bool(config["frame"]))
    pairs = twin_pairs(images, float(config["split"]["twin_threshold"]))
    groups = union_find_groups(len(images), pairs)
    report = twin_report(groups, pairs, labels)
    parts = split_indices(config, images, labels, groups, int(config["split"].get("seed", seed)))
    train_index, val_index = parts["train"], parts["validation"]
    if len(train_index) == 0 or len(val_index) == 0:
        raise InputError(f"The {config['split']['kind']} split of {len(images)} images in {report.groups} twin groups "
                         f"leaves {len(train_index)} for training and {len(val_index)} for validation: "
                         f"{data_dir(config)}")
    leaked = int(np.isin(groups[val_index], groups[train_index]).sum())

    extra_images, extra_labels, extra_counts = extra_training_data(config, progress)
    network = build_network(config["architecture"])
    if config.get("init_from"):
        network.load_state_dict(load_weights(resolve(config["init_from"])))
    optimiser, scheduler = make_optimiser(config, network)
    train_labels_all = np.concatenate([labels[train_index], extra_labels])
    criterion = loss_function(config, train_labels_all)
    augmentation = Augmentation(**config["augmentation"])
    method = config["standardise"]
    generator = torch.Generator().manual_seed(seed)
    train_images = torch.from_numpy(np.concatenate([images[train_index], extra_images]))
    train_labels = torch.from_numpy(train_labels_all)
    held_out = {name: (torch.from_numpy(standardise(images[index], method)), torch.from_numpy(labels[index]))
                for name, index in parts.items() if name != "train"}
    batch_size = int(config["batch_size"])

    history: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, Evaluation]] | None = None
    facts = {"name": config["name"], "seed": seed, "threads": threads_used, "split": config["split"]["kind"],
             "train_images": len(train_index), "extra_training_images": extra_counts,
             "validation_images": len(val_index),
             "validation_images_with_twin_in_train": leaked, "twins": report.as_dict(),
             "held_out_images": {name: len(index) for name, index in parts.items() if name != "train"}}
    epochs_bar = tqdm(range(int(config["epochs"])), desc=f"Training {config['name']}", disable=not progress)
    for epoch in epochs_bar:
        network.train()
        order = torch.randperm(len(train_images), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            if len(batch) < 2:
                continue
            augmented = augment(train_images[batch].unsqueeze(1), augmentation, generator).squeeze(1).numpy()
            if augmentation.strip:
                augmented = strip_skulls(augmented, augmentation.strip, np.random.default_rng([seed, epoch, start]))
            inputs = network_input(torch.from_numpy(standardise(augmented, method)))
            loss = criterion(network(inputs), train_labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        calibration = train_images[order[:BN_CALIBRATION_IMAGES]].numpy()
        recalibrate_batch_norm(network, torch.from_numpy(standardise(calibration, method)), batch_size)
        evaluations = {name: Evaluation.of(predict_logits(network, held, batch_size), truth)
                       for name, (held, truth) in held_out.items()}
        evaluation = evaluations["validation"]
        if config["schedule"] == "cosine":
            scheduler.step()
        else:
            scheduler.step(evaluation.loss)
        history.append({"epoch": epoch + 1, "train_loss": round(total / len(order), 5),
                        "val_loss": round(evaluation.loss, 5), "val_accuracy": round(evaluation.accuracy, 5),
                        **{f"{name}_accuracy": round(other.accuracy, 5) for name, other in evaluations.items()
                           if name != "validation"},
                        "lr": optimiser.param_groups[0]["lr"], "seconds": round(time.perf_counter() - started, 1)})
        epochs_bar.set_postfix(val_acc=f"{evaluation.accuracy:.4f}", val_loss=f"{evaluation.loss:.4f}")
        stop = False
        if config["selection"] == "last" or best is None or evaluation.accuracy > best[0]:
            best = (evaluation.accuracy, epoch + 1, evaluations)
            save_weights(network.state_dict(), out_dir / "model.safetensors")
        else:
            stop = epoch + 1 - best[1] >= int(config["early_stopping"]["patience"])
        complete = stop or epoch + 1 == int(config["epochs"])
        metrics = summary(facts, best[1], best[2], history, time.perf_counter() - started, complete,
                          {name: [f"{samples[i].path.parent.name}/{samples[i].path.name}" for i in index]
                           for name, index in parts.items()
                           if name != "train"})
        if complete and "brightness_holdout" in parts:
            network.load_state_dict(load_weights(out_dir / "model.safetensors"))
            metrics["brightness_shift_check"] = {
                name: brightness_shift_check(lambda batch: predict_logits(network, batch, batch_size),
                                             images[index], labels[index], method)
                for name, index in parts.items() if name != "train"}
        write_json(metrics, out_dir / "metrics.json")
        card = card_of(config, metrics, out_dir / "model.safetensors")
        write_json(card, out_dir / "card.json")
        write_json({"version": 1, "models_dir": ".", "models": [card | {"default": True}]}, out_dir / "models.json")
        if stop:
            break
    return metrics


def summary(facts: dict[str, Any], best_epoch: int, evaluations: dict[str, Evaluation],
            history: list[dict[str, Any]], seconds: float, complete: bool,
            held_out_files: dict[str, list[str]]) -> dict[str, Any]:
    """The metrics of a run so far (rewritten after every epoch, so a stopped run keeps its best epoch's):
    ``validation`` (the twin-aware or naive set) and any further held-out set under its own name."""
    held = {name: {"accuracy": round(evaluation.accuracy, 4), "loss": round(evaluation.loss, 4),
                   "recall": evaluation.recall, "confusion_matrix": evaluation.confusion,
                   "confusion_axes": "rows = truth, columns = prediction, order " + ",".join(CLASSES)}
            for name, evaluation in evaluations.items()}
    return {
        **facts, "complete": complete, "best_epoch": best_epoch, "epochs_run": len(history), **held,
        "training_seconds": round(seconds, 1), "history": history,
        "validation_files": held_out_files["validation"],
        **{f"{name}_files": files for name, files in held_out_files.items() if name != "validation"},
    }


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A float32 state dict from a run's ``model.safetensors`` (``init_from``: continue from an earlier stage)."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise InputError(f"init_from weights not found: {path}")
    return {key: value.float() if value.is_floating_point() else value for key, value in load_file(str(path)).items()}


def save_weights(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Float tensors as fp16 (half the size; the classifier's outputs do not change at its precision), atomically."""
    from safetensors.torch import save_file

    compact = {key: (value.detach().half() if value.is_floating_point() else value.detach()).clone().contiguous()
               for key, value in state.items()}
    with atomic_path(path) as temporary:
        save_file(compact, str(temporary))
    return path


def card_of(config: dict[str, Any], metrics: dict[str, Any], weights_path: Path) -> dict[str, Any]:
    """A models.json entry for the trained network (the bundling step adds the naive-split comparison)."""
    return {
        "id": config["name"], "task": "classification", "title": config.get("title", config["name"]),
        "version": str(config.get("version", "1.0")), "default": False,
        "architecture": config["architecture"], "inputs": ["t1c"],
        "outputs": {"activation": "softmax", "classes": list(CLASSES)},
        "preprocessing": {"image_size": config["image_size"], "channels": 3, "frame": bool(config["frame"]),
                          "standardise": config["standardise"], "intensity": "grayscale, min-max [0, 1]"},
        "inference": config["inference"],
        "weights": {"file": weights_path.name, "sha256": sha256_of(weights_path),
                    "size_bytes": weights_path.stat().st_size, "format": "safetensors"},
        "license": "CC0-1.0 data (Brain Tumor MRI Dataset, M. Nickparvar); weights trained by this project",
        "intended_use": "Research only, not for diagnosis.",
        "training": {"config": json.loads(json.dumps(config)), "seed": metrics["seed"],
                     "best_epoch": metrics["best_epoch"], "epochs_run": metrics["epochs_run"],
                     "training_seconds": metrics["training_seconds"], "threads": metrics["threads"],
                     "twins": metrics["twins"]},
        "metrics": {"validation": metrics["validation"], "split": metrics["split"],
                    **{key: metrics[key] for key in ("brightness_holdout", "brightness_shift_check") if key in metrics}},
    }
