"""Choose a segmenter's postprocessing by cross-validation: every fold's model predicts its own held-out cases once,
unprocessed, and each candidate setting is scored on all of those out-of-fold maps (nnU-Net's way of choosing).

Usage::

    python -m BrainTumorAILab.training.postprocess_search --out search.json \\
        --fold RUN_DIR CASE_DIR [CASE_DIR ...] [--fold RUN_DIR CASE_DIR ...] [--tta]

A case folder holds the sequences and its manual label map, named as training data is (``datasets.LABEL_SCHEMES``).
Prints one line per candidate, best first; the JSON holds every candidate's Dice per region and false whole tumour,
mean and per case, and HD95 for the best and for the card's current one.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from BrainTumorAILib.core.case import load_case
from BrainTumorAILib.core.image import load_image, resample_to
from BrainTumorAILib.core.labels import REGIONS, from_convention, regions
from BrainTumorAILib.core.preprocess import dice, foreground_mask
from BrainTumorAILib.tasks.segmentation.fluid import fluid_mask
from BrainTumorAILib.tasks.segmentation.metrics import score_regions
from BrainTumorAILib.tasks.segmentation.postprocess import PostprocessOptions, postprocess
from BrainTumorAILib.tasks.segmentation.segment import segment_case
from .datasets import discover
from .trained import card_of_run

UNPROCESSED = {"min_component_ml": 0.0, "min_component_fraction": 0.0, "fill_holes": False, "small_et_ml": None,
               "fluid_veto": False}
GRID = {"min_component_ml": (0.1, 1.0, 3.0, 10.0), "min_component_fraction": (0.0, 0.1, 0.25, 0.5, 1.0),
        "fluid_veto": (False, True)}


def truth_classes(case_dir: Path) -> tuple[np.ndarray, Any]:
    """The manual class map of a case folder (any naming scheme of ``datasets``) and its image (for the grid)."""
    found = [case for case in discover(case_dir) if case.labels.parent == case_dir]
    if not found:
        raise SystemExit(f"No label map found for case {case_dir}")
    image = load_image(found[0].labels, label=True)
    return from_convention(image.array, found[0].convention), image


def out_of_fold_maps(folds: list[tuple[Path, list[Path]]], preprocessing: dict[str, Any] | None = None,
                     tta: bool = False) -> list[dict[str, Any]]:
    """For every held-out case: its name, the fold's unprocessed class map, the truth and the fluid mask
    (``fluid.fluid_mask``, None without FLAIR and T2), on the truth's grid.
    ``preprocessing`` entries override the runs' (e.g. {"bias_correction": "n4"}, to measure it); ``tta`` averages
    the probabilities over flips (``segment_case(tta=True)``)."""
    cases = []
    for run, case_dirs in folds:
        card = card_of_run(run)
        if preprocessing:
            card = dataclasses.replace(card, preprocessing={**card.preprocessing, **preprocessing})
        for case_dir in case_dirs:
            case = load_case(case_dir)
            result = segment_case(case, card=card, postprocessing=UNPROCESSED, device="cpu", tta=tta)
            truth, truth_image = truth_classes(case_dir)
            predicted = result.classes
            if not predicted.same_grid(truth_image):
                predicted = resample_to(predicted, truth_image, label=True)
            images = {name: resample_to(case.images[name], truth_image).array
                      for name in {"flair", "t2", result.reference} & case.images.keys()}
            fluid = fluid_mask(images, foreground_mask(images[result.reference]))
            cases.append({"case": case_dir.name, "fold": run.name, "prediction": predicted.array, "truth": truth,
                          "spacing": truth_image.spacing, "fluid": fluid})
            print(f"predicted {case_dir.name} with {run.name}", file=sys.stderr)
    return cases


def score(cases: list[dict[str, Any]], options: PostprocessOptions, with_hd95: bool = False) -> dict[str, Any]:
    """Mean and per-case Dice per region and false whole tumour (mL outside the true one) under ``options``;
    ``with_hd95`` adds HD95 (mm) per region (BraTS rules)."""
    per_case = {}
    for case in cases:
        cleaned = postprocess(case["prediction"], case["spacing"], options, case["fluid"])
        predicted, true = regions(cleaned), regions(case["truth"])
        false_ml = float(np.count_nonzero(predicted["WT"] & ~true["WT"]) * np.prod(case["spacing"]) / 1000)
        per_case[case["case"]] = {**{region: round(dice(predicted[region], true[region]), 4) for region in REGIONS},
                                  "false_positive_WT_ml": round(false_ml, 2)}
        if with_hd95:
            scores = score_regions(cleaned, case["truth"], case["spacing"])
            per_case[case["case"]]["HD95_mm"] = {region: round(scores[region]["hd95"], 2) for region in REGIONS}
    keys = (*REGIONS, "false_positive_WT_ml")
    mean = {key: round(float(np.mean([row[key] for row in per_case.values()])), 4) for key in keys}
    if with_hd95:
        mean["HD95_mm"] = {region: round(float(np.mean([row["HD95_mm"][region] for row in per_case.values()])), 2)
                           for region in REGIONS}
    mean["mean_dice"] = round(float(np.mean([mean[region] for region in REGIONS])), 4)
    return {"mean": mean, "per_case": per_case}


def search(cases: list[dict[str, Any]], current: dict[str, Any]) -> dict[str, Any]:
    """Every candidate of GRID (hole filling on) scored; the best by mean Dice over WT, TC and ET, the smaller
    change (no fluid veto, then the smaller thresholds) winning ties."""
    candidates = []
    for values in itertools.product(*GRID.values()):
        settings = {**dict(zip(GRID, values)), "fill_holes": True}
        candidates.append({"settings": settings, **score(cases, PostprocessOptions(**settings))})
    candidates.sort(key=lambda row: (-row["mean"]["mean_dice"], row["settings"]["fluid_veto"],
                                     row["settings"]["min_component_fraction"], row["settings"]["min_component_ml"]))
    best = candidates[0]["settings"]
    return {"best": {"settings": best, **score(cases, PostprocessOptions(**best), with_hd95=True)},
            "current": {"settings": current, **score(cases, PostprocessOptions(**current), with_hd95=True)},
            "unprocessed": score(cases, PostprocessOptions(**UNPROCESSED))["mean"],
            "candidates": [{"settings": row["settings"], "mean": row["mean"], "per_case": row["per_case"]}
                           for row in candidates],
            "cases": [{"case": case["case"], "fold": case["fold"]} for case in cases]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fold", nargs="+", action="append", required=True, metavar="RUN_DIR CASE_DIR",
                        help="a fold's training run folder, then the case folders it held out")
    parser.add_argument("--current", default='{"min_component_ml": 0.1, "min_component_fraction": 0.1}',
                        help="the card's postprocessing today, as JSON")
    parser.add_argument("--preprocessing", default="{}",
                        help='JSON overriding the runs\' preprocessing, e.g. \'{"bias_correction": "n4"}\'')
    parser.add_argument("--tta", action="store_true", help="predict with flip test-time augmentation")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for every candidate's figures")
    arguments = parser.parse_args(argv)
    folds = [(Path(run), [Path(case) for case in cases]) for run, *cases in arguments.fold]
    preprocessing = json.loads(arguments.preprocessing)
    result = search(out_of_fold_maps(folds, preprocessing, arguments.tta), json.loads(arguments.current))
    result["preprocessing_override"] = preprocessing
    result["tta"] = arguments.tta
    arguments.out.write_text(json.dumps(result, indent=1))
    for row in result["candidates"]:
        print(json.dumps(row["settings"]), json.dumps(row["mean"]))
    print("current", json.dumps(result["current"]["mean"]), "unprocessed", json.dumps(result["unprocessed"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
