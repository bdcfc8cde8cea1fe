"""Training the learned stripper on synthetic heads: ``braintumorai train strip --config FILE``.

Every sample is drawn from its own seed (the config's seed and the sample's index), so a run is deterministic
whether the heads are made in the training process or in ``workers`` background processes (config key, default
0) while the network trains; held-out validation heads come from another seed stream. Writes
``weights.safetensors``, ``history.json``, ``checkpoint.pt`` (at every validation: weights, optimiser, schedule,
random state and the config) and at the end ``summary.json`` (metrics and the card fields) into the output folder,
each atomically. Because a step's heads depend only on its index, ``resume`` continues a stopped run from its last
checkpoint to the same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from monai.losses import DiceLoss
from tqdm import tqdm

from BrainTumorAILib.core.atomic import atomic_path, write_json
from BrainTumorAILib.core.device import seed_everything, select_device
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.preprocess import pad_to_multiple
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.tasks.stripping.learned import predict_probability
from BrainTumorAILib.tasks.stripping.postprocess import dice, solid_component
from ..config_files import read_config, require
from .painting import Randomisation
from .real_brains import RealBrain, load_real_brains
from .real_heads import RealHead, load_real_heads
from .synthesis import synthetic_head

MASK_DICE, MASK_BCE = DiceLoss(sigmoid=True), torch.nn.BCEWithLogitsLoss()
VALIDATION_STREAM = 1_000_000  # validation heads use sample indices from here on, never reached in training
STAGES = {"coarse": ("seed", "architecture", "preprocessing", "iterations", "crop", "lr"),
          "edge_refinement": ("seed", "architecture", "spacing_mm", "iterations", "crop", "lr", "real_heads",
                              "coarse_model")}


def load_strip_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a stripper training config (JSON) of either stage (the coarse network, or with ``stage``
    "edge_refinement" its refinement, edges.py); InputError names the file and the problem."""
    config = read_config(path)
    stage = config.get("stage", "coarse")
    if stage not in STAGES:
        raise InputError(f"Unknown stripper training stage '{stage}' (choose {', '.join(STAGES)}): {path}")
    require(config, STAGES[stage], str(path))
    return config


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def randomisation_of(config: dict[str, Any]) -> Randomisation:
    given = dict(config.get("synthesis", {}))
    for key in ("grid_shape", "blur_voxels", "slice_mm", "noise", "fov_cut_fraction"):
        if key in given:
            given[key] = tuple(given[key])
    return Randomisation(spacing_mm=float(config["preprocessing"]["spacing_mm"]), **given)


def random_crop(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, size: tuple[int, int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The same random box of ``size`` from both arrays (I, J, K)."""
    starts = [int(rng.integers(0, n - c + 1)) for n, c in zip(image.shape, size)]
    box = tuple(slice(s, s + c) for s, c in zip(starts, size))
    return image[box], mask[box]


class TrainingBatches(torch.utils.data.Dataset):
    """Item ``i`` is step ``first_step + i``: (images, masks), float32 tensors (batch, 1, *crop), random crops of
    that step's synthetic heads (sample indices step * batch ... step * batch + batch - 1)."""

    def __init__(self, seed: int, randomisation: Randomisation, crop: tuple[int, int, int], batch: int, steps: int,
                 brains: Sequence[RealBrain] = (), heads: Sequence[RealHead] = (), first_step: int = 0):
        self.seed, self.randomisation, self.crop, self.batch, self.steps = seed, randomisation, crop, batch, steps
        self.brains, self.heads, self.first_step = brains, heads, first_step

    def __len__(self) -> int:
        return self.steps - self.first_step

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.first_step + item
        pairs = []
        for index in range(step * self.batch, (step + 1) * self.batch):
            image, mask = synthetic_head(sample_seed(self.seed, index), self.randomisation, self.brains, self.heads)
            pairs.append(random_crop(np.random.default_rng([self.seed, index, 1]), image, mask, self.crop))
        images = torch.from_numpy(np.stack([p[0] for p in pairs])[:, None])
        return images, torch.from_numpy(np.stack([p[1] for p in pairs])[:, None].astype(np.float32))


def head_scores(network: torch.nn.Module, heads: list[tuple[np.ndarray, np.ndarray]], device: torch.device,
                multiple: int, threshold: float = 0.5, roi_size: tuple[int, ...] | None = None) -> list[float]:
    """Dice of the post-processed network mask (probability > ``threshold``) of each whole head (zero-padded to
    ``multiple``; in windows of ``roi_size`` as ``predict_probability``)."""
    network.eval()
    scores = []
    for image, mask in heads:
        padded, pad = pad_to_multiple(image, multiple)
        probability = pad.invert(predict_probability(network, padded, device, roi_size))
        scores.append(dice(solid_component(probability > threshold), mask))
    return scores


def evaluate(network: torch.nn.Module, heads: list[tuple[np.ndarray, np.ndarray]], device: torch.device,
             multiple: int, roi_size: tuple[int, ...]) -> float:
    """Mean Dice on the validation heads (windows of the training crop ``roi_size``); leaves the network in
    training mode."""
    score = float(np.mean(head_scores(network, heads, device, multiple, roi_size=roi_size)))
    network.train()
    return score


def real_brains_of(config: dict[str, Any], data: str | os.PathLike | None) -> list[RealBrain]:
    """The real brains the config's ``real_brains`` lists (case folders relative to ``data``), or none."""
    folders = config.get("real_brains", [])
    if folders and data is None:
        raise InputError("This stripper config builds heads around real brains: give the data folder (--data)")
    return load_real_brains(data, folders) if folders else []


def real_heads_of(config: dict[str, Any], data: str | os.PathLike | None) -> list[RealHead]:
    """The real whole heads the config's ``real_heads`` lists (folders relative to ``data``), or none."""
    folders = config.get("real_heads", [])
    if folders and data is None:
        raise InputError("This stripper config trains on real heads: give the data folder (--data)")
    return load_real_heads(data, folders) if folders else []


def train_stripper(config: dict[str, Any], out: str | os.PathLike, *, device: str = "auto", progress: bool = True,
                   command: str = "", log: Callable[[str], None] = print, data: str | os.PathLike | None = None,
                   resume: bool = False) -> dict[str, Any]:
    """Train per ``config`` (its ``real_brains`` folders read from ``data``); return the summary (validation Dice,
    seconds, card fields) also written to ``out``. ``resume`` continues from ``out``'s checkpoint, which must hold
    the same config."""
    out = Path(out)
    seed = int(config["seed"])
    seed_everything(seed)
    torch_device = select_device(device)
    randomisation = randomisation_of(config)
    network = build_network(config["architecture"])
    if config.get("init_from_model"):  # fine-tune a registered model's weights
        from BrainTumorAILib.core.registry import Registry
        from BrainTumorAILib.core.weights import load_state_dict

        network.load_state_dict(load_state_dict(Registry.load().resolve("skull_stripping", config["init_from_model"]),
                                                progress=False))
    network = network.to(torch_device)
    optimiser = torch.optim.Adam(network.parameters(), lr=float(config["lr"]))
    iterations = int(config["iterations"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations, eta_min=float(config["lr"]) * 0.05)
    brains, real_heads = real_brains_of(config, data), real_heads_of(config, data)
    heads = [synthetic_head(sample_seed(seed, VALIDATION_STREAM + j), randomisation, brains, real_heads)
             for j in range(int(config.get("validation_heads", 4)))]
    crop = tuple(int(n) for n in config["crop"])
    batch = int(config.get("batch_size", 1))
    every = int(config.get("validate_every", max(1, iterations // 5)))
    workers = int(config.get("workers", 0))
    history: list[dict[str, float]] = []
    first_step, seconds_before = 0, 0.0
    if resume:
        history, first_step = restore_checkpoint(out, config, network, optimiser, schedule)
        seconds_before = history[-1]["seconds"] if history else 0.0
    batches = torch.utils.data.DataLoader(TrainingBatches(seed, randomisation, crop, batch, iterations, brains,
                                                          real_heads, first_step),
                                          batch_size=None, num_workers=workers,
                                          prefetch_factor=2 if workers else None)
    started = time.perf_counter() - seconds_before
    network.train()
    bar = tqdm(batches, desc="train strip", disable=not progress, initial=first_step, total=iterations)
    for step, (images, masks) in enumerate(bar, start=first_step):
        loss = mask_step(network, optimiser, schedule, images.to(torch_device), masks.to(torch_device))
        bar.set_postfix(loss=f"{loss:.3f}")
        if (step + 1) % every == 0 or step + 1 == iterations:
            score = evaluate(network, heads, torch_device, int(config["preprocessing"].get("multiple", 8)), crop)
            history.append({"iteration": step + 1, "loss": loss, "validation_dice": score,
                            "seconds": time.perf_counter() - started})
            log(json.dumps(history[-1]))
            save_weights(network, out / "weights.safetensors")
            write_json(history, out / "history.json")
            save_checkpoint(out, config, network, optimiser, schedule, step + 1)
    summary = {
        "command": command, "seed": seed, "iterations": iterations, "batch_size": batch, "crop": list(crop),
        "workers": workers,
        "validation_heads": len(heads), "validation_dice": history[-1]["validation_dice"],
        "seconds": round(time.perf_counter() - started, 1), "device": str(torch_device),
        "threads": torch.get_num_threads(), "architecture": config["architecture"],
        "preprocessing": config["preprocessing"], "synthesis": vars(randomisation),
        "real_brains": [brain.name for brain in brains], "real_heads": [head.name for head in real_heads],
        "init_from_model": config.get("init_from_model"), "resumed": resume,
    }
    write_json(summary, out / "summary.json")
    registry = {"version": 1, "models_dir": ".", "models": [run_card(config, out / "weights.safetensors", summary)]}
    write_json(registry, out / "models.json")
    return summary


def run_card(config: dict[str, Any], weights: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A models.json entry for a run's weights, so ``BRAINTUMORAI_MODELS=RUN/models.json`` strips with them
    through the path of a bundled model (evaluation of folds, and the card to bundle)."""
    from BrainTumorAILib.core.weights import sha256_of

    crop = [int(n) for n in config["crop"]]
    return {
        "id": config.get("name", "stripper-run"), "task": "skull_stripping", "title": config.get("description", ""),
        "version": str(config.get("version", "run")), "default": True, "architecture": config["architecture"],
        "inputs": ["any"], "outputs": {"activation": "sigmoid", "channels": ["brain"]},
        "preprocessing": {**config["preprocessing"], "grid": "isotropic RAS grid over the input's extent"},
        "inference": {"roi_size": crop, "overlap": 0.5, **config.get("inference", {})},
        "weights": {"file": weights.name, "sha256": sha256_of(weights), "size_bytes": weights.stat().st_size,
                    "format": "safetensors"},
        "license": "as the training data", "intended_use": "Research only, not for diagnosis.",
        "training": {"config": config, **{key: summary[key] for key in ("command", "seed", "seconds", "threads")}},
        "metrics": {"synthetic_validation_dice": summary["validation_dice"]},
    }


def mask_step(network: torch.nn.Module, optimiser: torch.optim.Optimizer,
              schedule: torch.optim.lr_scheduler.LRScheduler, inputs: torch.Tensor, masks: torch.Tensor) -> float:
    """One optimisation step of a brain-mask network on a batch (inputs (B, C, I, J, K), masks (B, 1, I, J, K)):
    Dice plus binary cross-entropy on its logits. Returns the loss."""
    logits = network(inputs)
    loss = MASK_DICE(logits, masks) + MASK_BCE(logits, masks)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    schedule.step()
    return float(loss.detach())


def save_weights(network: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {key: value.detach().cpu().contiguous() for key, value in network.state_dict().items()}
    with atomic_path(path) as temporary:
        save_file(state, str(temporary))


def save_checkpoint(out: Path, config: dict[str, Any], network: torch.nn.Module, optimiser: torch.optim.Optimizer,
                    schedule: torch.optim.lr_scheduler.LRScheduler, steps_done: int) -> None:
    """The training state after ``steps_done`` steps, for ``resume``."""
    state = {"model": network.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
             "rng": torch.get_rng_state(), "steps_done": steps_done, "config": json.dumps(config, sort_keys=True)}
    with atomic_path(out / "checkpoint.pt") as temporary:
        torch.save(state, temporary)


def restore_checkpoint(out: Path, config: dict[str, Any], network: torch.nn.Module,
                       optimiser: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler
                       ) -> tuple[list[dict[str, float]], int]:
    """Load ``out``'s checkpoint into the training state; return the history up to it and its steps done."""
    path = out / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"Nothing to resume: no checkpoint in {out}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != json.dumps(config, sort_keys=True):
        raise InputError(f"The checkpoint in {out} was trained with another config (or other --hold-out-head): "
                         "resume with the same ones")
    network.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    torch.set_rng_state(state["rng"])
    steps_done = int(state["steps_done"])
    history = json.loads((out / "history.json").read_text())
    return [record for record in history if record["iteration"] <= steps_done], steps_done
