"""``python -m BrainTumorAILab.bench --data DIR``: the project's ``segment`` beside the textbook MONAI pipeline.

Both run the same model card and weights on one 240x240x155 case, each in a fresh child process, ``--repeat`` times
in turn (the figures are each one's medians, so one slow run on a shared machine does not decide), and the bench
prints each one's wall time and peak RSS (``os.wait4``'s rusage of that child), the seconds each child reports for
its work after start-up (Python, torch and MONAI imports, which both pay alike), the ratios, and the Dice between
their label maps per region. The textbook pipeline is what a MONAI tutorial writes: LoadImaged, Orientationd to
RAS, NormalizeIntensityd over non-zero voxels per channel (after clipping them to their 0.5-99.5th percentiles for a
card whose normalisation is robust_zscore), Spacingd when the card resamples (after the normalisation,
so that interpolated brain-edge voxels do not enter its statistics), sliding-window inference
over the whole volume at overlap 0.5 (constant blending) under ``no_grad``, Invertd back to the input grid. Both then
apply the same postprocessing (the card's), so that the Dice compares the two inference paths; both make one pass
(the project's ``--no-tta``), or with ``--tta`` both average the softmax over the same four passes (the identity
and a mirror along each axis, the engine's ``TTA_FLIPS``; in the textbook a ``torch.flip`` around each
``sliding_window_inference``), as a card with ``inference.flip_tta`` deploys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CASES = ("samples/BraTS-GLI-00001-000", "segmentation/brats2013-deepmedic/brats_2013_pat0003_1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("BRAINTUMORAI_DATA", "../shared/data"),
                        help="the shared data folder (default: $BRAINTUMORAI_DATA or ../shared/data)")
    parser.add_argument("--case", help="case folder to run (default: the BraTS-GLI sample, else a deepmedic case)")
    parser.add_argument("--model", help="segmentation model id (default: the registry's default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pipeline, taken in turn; the figures are "
                                                              "medians (default: 3)")
    parser.add_argument("--tta", action="store_true", help="both paths average the four flip passes")
    parser.add_argument("--worker", choices=("textbook",), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        return _textbook(Path(arguments.case), arguments.model, Path(arguments.out), arguments.tta)
    return _compare(arguments)


def _compare(arguments: argparse.Namespace) -> int:
    from BrainTumorAILib.core.case import find_sequences
    from BrainTumorAILib.core.registry import Registry

    card = Registry.load().resolve("segmentation", arguments.model)
    case_dir = Path(arguments.case) if arguments.case else _default_case(Path(arguments.data), card.inputs)
    files = find_sequences(case_dir)
    inputs = [argument for sequence in card.inputs for argument in (f"--{sequence}", str(files[sequence]))]
    with tempfile.TemporaryDirectory(prefix="braintumorai-bench-") as folder:
        outputs = {"project": Path(folder) / "project.nii.gz", "textbook": Path(folder) / "textbook.nii.gz"}
        commands = {
            "project": [sys.executable, "-m", "BrainTumorAILib.cli", "segment", *inputs, "--model", card.id,
                        "--tta" if arguments.tta else "--no-tta", "-o", str(outputs["project"])],
            "textbook": [sys.executable, "-m", "BrainTumorAILab.bench", "--worker", "textbook", "--case",
                         str(case_dir), "--model", card.id, "--out", str(outputs["textbook"]),
                         *(["--tta"] if arguments.tta else [])],
        }
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for _ in range(max(arguments.repeat, 1)):
            for name, command in commands.items():
                runs[name].append(_measure(command))
        figures = {name: _median(measured) for name, measured in runs.items()}
        agreement = _agreement(outputs["project"], outputs["textbook"])
    summary = {
        "case": str(case_dir), "model": card.id, "flip_tta": arguments.tta,
        "threads": os.environ.get("BRAINTUMORAI_THREADS", "all cores"),
        "runs_each": len(runs["project"]),
        **figures,
        "speedup": round(figures["textbook"]["wall_s"] / figures["project"]["wall_s"], 2),
        "speedup_after_startup": round(figures["textbook"]["work_s"] / figures["project"]["work_s"], 2),
        "rss_ratio": round(figures["project"]["peak_rss_mb"] / figures["textbook"]["peak_rss_mb"], 2),
        "dice_between_masks": agreement,
    }
    print(f"medians of {summary['runs_each']} runs each:")
    for name in ("project", "textbook"):
        print(f"{name:9s} wall {figures[name]['wall_s']:7.2f} s (after start-up {figures[name]['work_s']:6.2f} s)   "
              f"peak RSS {figures[name]['peak_rss_mb']:8.1f} MB   (walls: "
              f"{', '.join(str(run['wall_s']) for run in runs[name])} s)")
    print(f"speed-up of the project's segment: {summary['speedup']}x wall, {summary['speedup_after_startup']}x after "
          f"start-up; RSS ratio project/textbook: {summary['rss_ratio']}")
    print("Dice between the two label maps: " + ", ".join(f"{k} {v:.4f}" for k, v in agreement.items()))
    print(json.dumps(summary))
    return 0


def _default_case(data: Path, inputs: list[str]) -> Path:
    from BrainTumorAILib.core.case import find_sequences

    for relative in CASES:
        folder = data / relative
        if folder.is_dir() and set(inputs) <= set(find_sequences(folder)):
            return folder
    raise SystemExit(f"bench: no case with {', '.join(inputs)} under {data} (give --case DIR)")


def _measure(command: list[str]) -> dict[str, float]:
    """Run ``command`` as a child; its wall time, CPU time and peak resident memory (the child's own rusage), and
    the ``seconds`` of work it reports in the JSON it prints last."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout:
        child = subprocess.Popen(command, stdout=stdout)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command[:5])} ... failed with exit code {child.returncode}")
        stdout.seek(0)
        text = stdout.read().decode()
    report = json.loads(text[text.rindex("\n{") + 1 if "\n{" in text else text.index("{"):])
    return {"wall_s": round(wall, 2), "work_s": float(report["seconds"]),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _median(measured: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure over runs."""
    return {key: round(statistics.median(run[key] for run in measured), 2) for key in measured[0]}


def _agreement(project: Path, textbook: Path) -> dict[str, float]:
    from BrainTumorAILib.core.image import load_image
    from BrainTumorAILib.core.labels import REGIONS, from_convention, regions
    from BrainTumorAILib.tasks.segmentation.metrics import dice

    first, second = load_image(project, label=True), load_image(textbook, label=True)
    if not first.same_grid(second):
        raise SystemExit(f"bench: the two label maps are on different grids: {first.shape} and {second.shape}")
    ours, theirs = regions(from_convention(first.array)), regions(from_convention(second.array))
    return {region: round(dice(ours[region], theirs[region]), 4) for region in REGIONS}


def _textbook(case_dir: Path, model_id: str, out: Path, tta: bool = False) -> int:
    """The tutorial pipeline with the card's network and weights (``tta``: the mean softmax over the engine's four
    flip passes); writes a brats2021 label map to ``out``."""
    import torch
    from monai import transforms as mt
    from monai.inferers import sliding_window_inference

    from BrainTumorAILib.core.case import find_sequences
    from BrainTumorAILib.core.image import Image, load_image, save_image
    from BrainTumorAILib.core.labels import to_convention
    from BrainTumorAILib.core.registry import Registry
    from BrainTumorAILib.tasks.segmentation.inference import TTA_FLIPS
    from BrainTumorAILib.tasks.segmentation.inputs import activate, classes_from_probabilities
    from BrainTumorAILib.tasks.segmentation.postprocess import PostprocessOptions, postprocess
    from BrainTumorAILib.core.weights import load_model

    started = time.perf_counter()
    card = Registry.load().resolve("segmentation", model_id)
    files = find_sequences(case_dir)
    keys = list(card.inputs)
    spacing = card.preprocessing.get("spacing_mm")
    steps = [mt.LoadImaged(keys=keys), mt.EnsureChannelFirstd(keys=keys), mt.ConcatItemsd(keys=keys, name="image"),
             mt.Orientationd(keys="image", axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S")))]
    if card.preprocessing.get("normalisation") == "robust_zscore":
        steps.append(mt.Lambdad(keys="image", func=_clip_brain_percentiles))
    steps.append(mt.NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True))
    if spacing:
        steps.append(mt.Spacingd(keys="image", pixdim=spacing, mode="bilinear"))
    preprocessing = mt.Compose(steps)
    data = preprocessing({key: str(files[key]) for key in keys})
    model = load_model(card, progress=False).eval()
    inference = card.inference
    image, passes = data["image"][None].float(), []
    with torch.no_grad():
        for axes in TTA_FLIPS if tta else ((),):
            flipped = torch.flip(image, axes) if axes else image
            logits = sliding_window_inference(flipped, inference.get("roi_size", [128] * 3),
                                              int(inference.get("sw_batch_size", 1)), model, overlap=0.5)
            passes.append(activate(torch.flip(logits, axes) if axes else logits, card.outputs)[0])
    data["pred"] = torch.stack(passes).mean(dim=0)
    inverted = mt.Invertd(keys="pred", transform=preprocessing, orig_keys="image", nearest_interp=False)(data)
    probabilities = np.asarray(inverted["pred"].detach().cpu().numpy(), dtype=np.float32)
    grid = load_image(files[keys[0]])
    options = PostprocessOptions.from_card(card.inference.get("postprocessing"))
    classes = postprocess(classes_from_probabilities(probabilities, card.outputs), grid.spacing, options)
    save_image(Image(to_convention(classes, "brats2021"), grid.affine), out, dtype="uint8")
    print(json.dumps({"written": str(out), "seconds": round(time.perf_counter() - started, 2)}))
    return 0


def _clip_brain_percentiles(image: Any) -> Any:
    """(C, I, J, K): each channel's non-zero voxels clipped to their 0.5-99.5th percentiles (as robust_zscore)."""
    out = image.clone()
    for channel in range(out.shape[0]):
        values = out[channel][out[channel] != 0]
        if values.numel():
            low, high = np.percentile(values.cpu().numpy(), (0.5, 99.5))
            inside = out[channel] != 0
            out[channel][inside] = values.clamp(float(low), float(high))
    return out


if __name__ == "__main__":
    sys.exit(main())
