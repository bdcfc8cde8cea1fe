"""``python -m BrainTumorAILab.stripping.evaluate --data DIR``: the strippers measured on real data, printed as JSON.

- Dice on held-out synthetic heads (the training config's validation seed stream, never trained on);
- Dice against the HD-BET mask of the raw TCGA study (``samples/TCGA-FG-6692``, with skull, 5.5 mm slices), for the
  learned and the classical method, on its t1c (the acceptance figure) and on each other sequence resampled onto it;
- Dice against the brain masks of the real research T1w heads (``heads/AOMIC``, ``heads/EDSD``: 1 mm, defaced,
  uint8, LIA), learned and classical;
- the share of the non-zero brain an already stripped BraTS sample keeps inside the learned mask;
- wall time of the learned method on a 256x256x160 phantom (1 mm voxels) with the threads in force;
- with ``--overlays DIR``, PNG overlays (the reference in green, ours in red) to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from BrainTumorAILib.core.device import set_threads
from BrainTumorAILib.core.image import Image, load_image, resample_to
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.postprocess import dice

TCGA = "samples/TCGA-FG-6692"
HEADS = ("heads/AOMIC", "heads/EDSD")
PARTS = ("synthetic", "tcga", "heads", "brats", "timing")
BRATS = "samples/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz"


def synthetic_dice(data: Path, model_id: str | None, heads: int = 20) -> dict[str, float]:
    """Mean and minimum Dice of the learned model on ``heads`` held-out synthetic heads of its training config
    (around its real brains from ``data`` when it has them)."""
    import torch

    from BrainTumorAILib.core.registry import MODULE_DIR, Registry
    from BrainTumorAILib.core.weights import load_model
    from .synthesis import synthetic_head
    from .training import (VALIDATION_STREAM, head_scores, load_strip_config, randomisation_of, real_brains_of,
                           sample_seed)

    card = Registry.load().resolve("skull_stripping", model_id)
    given = card.training["config"]  # a bundled card names its config file, a run's card holds the config
    config = given if isinstance(given, dict) else load_strip_config(MODULE_DIR.parent / given)
    randomisation, seed = randomisation_of(config), int(config["seed"])
    brains = real_brains_of(config, data)
    pairs = [synthetic_head(sample_seed(seed, VALIDATION_STREAM + index), randomisation, brains)
             for index in range(heads)]
    scores = head_scores(load_model(card), pairs, torch.device("cpu"), int(card.preprocessing.get("multiple", 8)),
                         float(card.inference.get("threshold", 0.5)), card.inference.get("roi_size"))
    return {"heads": heads, "mean": round(float(np.mean(scores)), 4), "min": round(float(np.min(scores)), 4)}


def tcga_dice(data: Path, model_id: str | None, overlays: Path | None) -> dict[str, dict[str, float]]:
    """Dice of each method's mask against HD-BET's, per TCGA sequence (masks compared on the t1c grid)."""
    reference = load_image(data / TCGA / "brainmask-hdbet-on-t1c.nii.gz", label=True)
    scores: dict[str, dict[str, float]] = {}
    for method in ("learned", "classical"):
        scores[method] = {}
        for sequence in ("t1c", "t1", "t2", "flair"):
            image = load_image(data / TCGA / f"{sequence}.nii.gz")
            mask = strip_skull(image, modality=sequence, method=method, model_id=model_id, guard=False).mask
            on_reference = resample_to(mask, reference, label=True)
            scores[method][sequence] = round(dice(on_reference.array, reference.array), 4)
            if overlays is not None and sequence == "t1c":
                save_overlay(image, mask, reference, overlays / f"strip_overlay_tcga_{method}.png")
    return scores


def heads_dice(data: Path, model_id: str | None, overlays: Path | None = None) -> dict[str, dict[str, float]]:
    """Dice of each method's mask (learned without the guard's fallback) against each real head's brain mask."""
    scores: dict[str, dict[str, float]] = {"learned": {}, "classical": {}}
    for folder in HEADS:
        path = data / folder
        image = load_image(next(path.glob("*_T1w.nii*")))
        reference = load_image(next(path.glob("*_brainmask.nii*")), label=True)
        for method in scores:
            mask = strip_skull(image, modality="t1", method=method, model_id=model_id, guard=False).mask
            scores[method][path.name] = round(dice(mask.array, reference.array), 4)
            if overlays is not None:
                save_overlay(image, mask, reference, overlays / f"strip_overlay_{path.name}_{method}.png")
    return scores


def brats_kept(data: Path, model_id: str | None, overlays: Path | None) -> float:
    """Share of the non-zero voxels of a skull-stripped BraTS t1c inside the learned mask."""
    image = load_image(data / BRATS)
    mask = strip_skull(image, modality="t1c", model_id=model_id, guard=False).mask
    brain = image.array != 0
    if overlays is not None:
        save_overlay(image, mask, image.with_array(brain.astype(np.uint8)), overlays / "strip_overlay_brats.png")
    return round(float(np.logical_and(brain, mask.array > 0).sum() / brain.sum()), 5)


def timing(model_id: str | None) -> dict[str, float]:
    """Seconds of the learned method on a 256x256x160 phantom of 1 mm voxels (phantom making not counted)."""
    image = make_phantom(0, shape=(256, 256, 160), spacing=(1.0, 1.0, 1.0)).images["t1"]
    strip_skull(image, model_id=model_id, guard=False)  # warm-up: model loading and first-call costs
    started = time.perf_counter()
    strip_skull(image, model_id=model_id, guard=False)
    return {"shape": [256, 256, 160], "seconds": round(time.perf_counter() - started, 2)}


def save_overlay(image: Image, mask: Image, reference: Image, path: Path) -> None:
    """Six axial slices and two mid planes: image in grey, reference contour green, mask contour red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from BrainTumorAILib.core.atomic import atomic_path

    reference = resample_to(reference, image, label=True)
    volume, ours, theirs = image.array, mask.array, reference.array
    figure, axes = plt.subplots(2, 4, figsize=(16, 8))
    planes = [(volume[:, :, k], ours[:, :, k], theirs[:, :, k]) for k in
              np.linspace(1, volume.shape[2] - 2, 6).astype(int)]
    planes += [(volume[volume.shape[0] // 2], ours[volume.shape[0] // 2], theirs[volume.shape[0] // 2]),
               (volume[:, volume.shape[1] // 2], ours[:, volume.shape[1] // 2], theirs[:, volume.shape[1] // 2])]
    for axis, (plane, a, b) in zip(axes.flat, planes):
        axis.imshow(plane.T, origin="lower", cmap="gray", aspect="auto")
        for contour, colour in ((b, "lime"), (a, "red")):
            if contour.any():
                axis.contour(contour.T, [0.5], colors=colour, linewidths=0.8)
        axis.set_axis_off()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=60)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.stripping.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("BRAINTUMORAI_DATA", "../shared/data"))
    parser.add_argument("--model", help="skull-stripping model id (default: the registry's default)")
    parser.add_argument("--overlays", type=Path, help="folder for overlay PNGs")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $BRAINTUMORAI_THREADS or all cores)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="measure only these")
    arguments = parser.parse_args(argv)
    threads = set_threads(arguments.threads)
    data, model, overlays = Path(arguments.data), arguments.model, arguments.overlays
    measures = {
        "synthetic": ("synthetic_heldout_dice", lambda: synthetic_dice(data, model)),
        "tcga": ("tcga_dice_vs_hdbet", lambda: tcga_dice(data, model, overlays)),
        "heads": ("heads_dice", lambda: heads_dice(data, model, overlays)),
        "brats": ("brats_nonzero_kept", lambda: brats_kept(data, model, overlays)),
        "timing": ("timing_learned", lambda: {**timing(model), "threads": threads}),
    }
    summary = {measures[part][0]: measures[part][1]() for part in PARTS if part in arguments.parts}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
