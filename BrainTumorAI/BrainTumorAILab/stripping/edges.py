"""Training the stripper's edge refinement (BrainTumorAILib refine.py): ``braintumorai train strip --config FILE``
with a config whose ``stage`` is "edge_refinement".

Each sample is a patch of ``crop`` voxels of ``spacing_mm`` centred near a random point of a real head's brain edge
(the heads of ``real_heads`` at ``source_spacing_mm``, posed, painted from their labels or re-contrasted as
real_heads.py does, then the synthetic heads' acquisition: bias, thick slices, noise, gamma), with a simulated
coarse probability: the brain's signed distance moved by a random offset and a smooth random field of up to
``prior_shift_mm`` and softened by a random width, as the 3 mm stage errs by 1-4 mm at the edge. Samples depend only
on the seed and their index, so ``resume`` reaches the weights of an uninterrupted run. The run's ``models.json``
holds the two-stage card: the coarse model ``coarse_model`` of the registry (its weights copied beside) with this
network as its ``inference.refinement``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import ndimage
from tqdm import tqdm

from BrainTumorAILib.core.atomic import write_json
from BrainTumorAILib.core.device import seed_everything, select_device
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.core.weights import local_weights_path, sha256_of
from BrainTumorAILib.inference.networks import build_network
from BrainTumorAILib.tasks.stripping.refine import refinement_input
from .painting import Randomisation, smooth_noise
from .real_heads import RealHead, load_real_heads, real_head_sample
from .synthesis import acquire
from .training import (VALIDATION_STREAM, mask_step, restore_checkpoint, sample_seed, save_checkpoint,
                       save_weights)

STAGE = "edge_refinement"
STRIPPED_PROB = 0.1


@dataclasses.dataclass(frozen=True)
class EdgeHead:
    """A real head and the points of its brain edge (mm on the head's grid, (N, 3))."""

    head: RealHead
    edge_mm: np.ndarray


def load_edge_heads(config: dict[str, Any], data: str | Path) -> list[EdgeHead]:
    """The config's ``real_heads`` (relative to ``data``) on grids of ``source_spacing_mm``, with their edges."""
    spacing = float(config.get("source_spacing_mm", 1.0))
    heads = load_real_heads(data, config["real_heads"], spacing)
    return [EdgeHead(head, np.argwhere(head.mask & ~ndimage.binary_erosion(head.mask)) * spacing) for head in heads]


def randomisation_of(config: dict[str, Any]) -> Randomisation:
    given = dict(config.get("synthesis", {}))
    for key in ("blur_voxels", "slice_mm", "noise"):
        if key in given:
            given[key] = tuple(given[key])
    return Randomisation(spacing_mm=float(config["spacing_mm"]), **given)


def simulated_prior(rng: np.random.Generator, mask: np.ndarray, spacing_mm: float, shift_mm: float) -> np.ndarray:
    """A coarse stage's brain probability for the true ``mask`` (I, J, K) bool: its signed distance (mm, positive
    inside) moved by a random offset and a smooth random field (together up to about ``shift_mm``), through a
    logistic of random width, blurred by 1.5-4 mm as a coarse grid smooths the edge's folds. float32 0..1."""
    distance = (ndimage.distance_transform_edt(mask) - ndimage.distance_transform_edt(~mask)) * spacing_mm
    offset = rng.uniform(-0.5, 0.5) * shift_mm
    field = rng.uniform(0.0, 0.5) * shift_mm * smooth_noise(rng, mask.shape, 15.0 / spacing_mm)
    width = rng.uniform(0.5, 2.0)
    prior = 1.0 / (1.0 + np.exp(-(distance + offset + field) / width))
    return ndimage.gaussian_filter(prior, rng.uniform(1.5, 4.0) / spacing_mm).astype(np.float32)


def edge_sample(seed: int, heads: Sequence[EdgeHead], config: dict[str, Any], r: Randomisation
                ) -> tuple[np.ndarray, np.ndarray]:
    """One training pair: (network input float32 (2, *crop): image and coarse probability, brain mask uint8
    (*crop))."""
    rng = np.random.default_rng(seed)
    crop = tuple(int(n) for n in config["crop"])
    edge = heads[int(rng.integers(len(heads)))]
    centre = edge.edge_mm[int(rng.integers(len(edge.edge_mm)))]
    image, mask = real_head_sample(rng, edge.head, crop, r.spacing_mm, r, centre_mm=centre)
    if rng.random() < STRIPPED_PROB:
        image = np.where(mask, image, 0.0).astype(np.float32)
    image = acquire(rng, image, r) * rng.uniform(0.5, 2.0)
    prior = simulated_prior(rng, mask, r.spacing_mm, float(config.get("prior_shift_mm", 4.0)))
    return refinement_input(image, prior), mask.astype(np.uint8)


class EdgeBatches(torch.utils.data.Dataset):
    """Item ``i`` is step ``first_step + i``: (inputs (batch, 2, *crop), masks (batch, 1, *crop)) float32."""

    def __init__(self, config: dict[str, Any], heads: Sequence[EdgeHead], first_step: int = 0):
        self.config, self.heads, self.first_step = config, heads, first_step
        self.randomisation = randomisation_of(config)
        self.seed, self.batch = int(config["seed"]), int(config.get("batch_size", 2))

    def __len__(self) -> int:
        return int(self.config["iterations"]) - self.first_step

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.first_step + item
        pairs = [edge_sample(sample_seed(self.seed, index), self.heads, self.config, self.randomisation)
                 for index in range(step * self.batch, (step + 1) * self.batch)]
        inputs = torch.from_numpy(np.stack([pair[0] for pair in pairs]))
        return inputs, torch.from_numpy(np.stack([pair[1] for pair in pairs])[:, None].astype(np.float32))


def patch_dice(network: torch.nn.Module, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
               device: torch.device) -> float:
    """Mean Dice of ``network``'s mask (probability > 0.5) on fixed patches; leaves the network in training mode."""
    network.eval()
    scores = []
    with torch.inference_mode():
        for inputs, mask in pairs:
            predicted = network(torch.from_numpy(inputs)[None].to(device))[0, 0].cpu().numpy() > 0
            scores.append(2 * np.logical_and(predicted, mask).sum() / max(predicted.sum() + mask.sum(), 1))
    network.train()
    return float(np.mean(scores))


def train_refiner(config: dict[str, Any], out: str | Path, *, device: str = "auto", progress: bool = True,
                  command: str = "", log: Callable[[str], None] = print, data: str | Path | None = None,
                  resume: bool = False) -> dict[str, Any]:
    """Train the edge refinement per ``config`` on the real heads of ``data``; write weights, history, checkpoint,
    summary and the two-stage card's ``models.json`` into ``out``; return the summary."""
    out = Path(out)
    seed = int(config["seed"])
    seed_everything(seed)
    torch_device = select_device(device)
    heads = load_edge_heads(config, data if data is not None else ".")
    network = build_network(config["architecture"]).to(torch_device)
    iterations = int(config["iterations"])
    optimiser = torch.optim.Adam(network.parameters(), lr=float(config["lr"]))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations, eta_min=float(config["lr"]) * 0.05)
    randomisation = randomisation_of(config)
    validation = [edge_sample(sample_seed(seed, VALIDATION_STREAM + j), heads, config, randomisation)
                  for j in range(int(config.get("validation_patches", 8)))]
    every = int(config.get("validate_every", max(1, iterations // 5)))
    history: list[dict[str, float]] = []
    first_step, seconds_before = 0, 0.0
    if resume:
        history, first_step = restore_checkpoint(out, config, network, optimiser, schedule)
        seconds_before = history[-1]["seconds"] if history else 0.0
    batches = torch.utils.data.DataLoader(EdgeBatches(config, heads, first_step), batch_size=None,
                                          num_workers=int(config.get("workers", 0)))
    started = time.perf_counter() - seconds_before
    network.train()
    bar = tqdm(batches, desc="train edge refinement", disable=not progress, initial=first_step, total=iterations)
    for step, (inputs, masks) in enumerate(bar, start=first_step):
        loss = mask_step(network, optimiser, schedule, inputs.to(torch_device), masks.to(torch_device))
        bar.set_postfix(loss=f"{loss:.3f}")
        if (step + 1) % every == 0 or step + 1 == iterations:
            history.append({"iteration": step + 1, "loss": loss,
                            "validation_dice": patch_dice(network, validation, torch_device),
                            "seconds": time.perf_counter() - started})
            log(json.dumps(history[-1]))
            save_weights(network, out / "refinement.safetensors")
            write_json(history, out / "history.json")
            save_checkpoint(out, config, network, optimiser, schedule, step + 1)
    summary = {"command": command, "seed": seed, "iterations": iterations, "stage": STAGE,
               "validation_patch_dice": history[-1]["validation_dice"],
               "seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
               "real_heads": [edge.head.name for edge in heads], "coarse_model": config["coarse_model"],
               "resumed": resume}
    write_json(summary, out / "summary.json")
    write_json({"version": 1, "models_dir": ".", "models": [two_stage_card(config, out, summary)]},
               out / "models.json")
    return summary


def two_stage_card(config: dict[str, Any], out: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A models.json entry: the registry's ``coarse_model`` (weights copied into ``out``) refined by the run's
    network, so ``BRAINTUMORAI_MODELS=RUN/models.json`` strips through the bundled path."""
    coarse = Registry.load().resolve("skull_stripping", config["coarse_model"])
    copied = out / f"coarse-{coarse.weights['file']}"
    shutil.copyfile(local_weights_path(coarse), copied)
    weights = out / "refinement.safetensors"
    entry = {field.name: getattr(coarse, field.name) for field in dataclasses.fields(coarse)
             if field.name != "models_dir"}
    refinement = {"architecture": config["architecture"], "spacing_mm": float(config["spacing_mm"]),
                  "roi_size": [int(n) for n in config["crop"]], "overlap": 0.25,
                  "weights": {"file": weights.name, "sha256": sha256_of(weights),
                              "size_bytes": weights.stat().st_size, "format": "safetensors"}}
    return {**entry, "id": config.get("name", "stripper-refined-run"), "version": str(config.get("version", "run")),
            "default": True, "title": config.get("description") or f"{coarse.title}, its edge refined",
            "weights": {**coarse.weights, "file": copied.name},
            "inference": {**coarse.inference, "refinement": refinement},
            "training": {"coarse_model": coarse.id, "refinement_config": config,
                         **{key: summary[key] for key in ("command", "seed", "seconds", "threads")}},
            "metrics": {"validation_patch_dice": summary["validation_patch_dice"]}}
