"""Leave-one-case-out cross-validation of a segmentation recipe: one training run per held-out case, scored on it.

Each fold is a ``train segmentation --validate-on CASE`` run in ``out/fold-CASE`` (a finished fold is reused, so an
interrupted study continues where it stopped). Its held-out Dice comes from the training's own validation, which
runs the shipped inference and postprocessing on the case's grid (validation.py). Per case:

- ``best``: the best validated epoch, whose weights the run keeps (chosen on the held-out case, so optimistic);
- ``last``: the last validated epoch (the recipe's fixed length: what training on all cases would ship);
- ``averaged``: with ``schedule.average_from``, the averaged weights the run keeps (what training on all cases
  ships with that recipe; chosen by nothing but the recipe).

``out/cross_validation.json`` holds each per case and their means; ``out/cross_validation.csv`` the table.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

from BrainTumorAILib.core.atomic import write_json, write_text
from BrainTumorAILib.core.errors import InputError
from .config import SegmentationConfig
from .datasets import discover
from .segmentation import train_segmentation
from .trained import SUMMARY, run_summary
from .validation import mean_dice

SUMMARY_NAME = "cross_validation"


def cross_validate(config: SegmentationConfig, data: str | Path, out: str | Path, *, folds: Sequence[str] = (),
                   device: str = "auto", progress: bool = True, command: str | None = None) -> dict[str, Any]:
    """Train and score one fold per case of ``data`` (or per case named in ``folds``); return the study's summary.

    Raises InputError for an unknown case, fewer than two cases, or a finished fold of another config in ``out``."""
    names = [case.name for case in discover(data)]
    held_out = list(folds) or names
    unknown = sorted(set(held_out) - set(names))
    if unknown:
        raise InputError(f"No case {', '.join(unknown)} under {data} (cases: {', '.join(names)})")
    if len(names) < 2:
        raise InputError(f"Cross-validation needs at least two labelled cases under {data}, found {len(names)}")
    out = Path(out)
    per_case = {}
    for name in held_out:
        run = out / f"fold-{name}"
        summary = _finished(run, config)
        if summary is None:
            summary = train_segmentation(config, data, run, [name], device=device, progress=progress,
                                         command=command)
        per_case[name] = _fold_scores(run, summary, name)
    study = {
        "config": config.raw, "data": str(data), "seed": int(config.seed), "command": command,
        "per_case": per_case,
        "mean": {which: mean_dice({name: scores[which] for name, scores in per_case.items()})
                 for which in _choices(per_case)},
    }
    write_json(study, out / f"{SUMMARY_NAME}.json")
    write_text(_table(per_case), out / f"{SUMMARY_NAME}.csv")
    return study


def _finished(run: Path, config: SegmentationConfig) -> dict[str, Any] | None:
    """The summary of a finished fold in ``run``, None when there is none; InputError when it used another config."""
    if not (run / SUMMARY).is_file():
        return None
    summary = run_summary(run)
    if summary["config"] != config.raw:
        raise InputError(f"{run} holds a fold trained with another config; choose a new --out for this study")
    return summary


def _fold_scores(run: Path, summary: dict[str, Any], name: str) -> dict[str, Any]:
    """Held-out Dice of a fold at its best and at its last validated epoch, and of its averaged weights."""
    validated = [record for record in json.loads((run / "history.json").read_text()) if "per_case" in record]
    if not validated:
        raise InputError(f"{run} never validated its held-out case (schedule.validate_every beyond the epochs?)")
    last = validated[-1]
    scores = {"best_epoch": summary["best_epoch"], "best": summary["validation_per_case"][name],
              "last_epoch": last["epoch"], "last": last["per_case"][name]}
    averaged = summary.get("averaged")
    if averaged and averaged.get("per_case"):
        scores.update(averaged_epoch=averaged["to_epoch"], averaged=averaged["per_case"][name])
    return scores


def _choices(per_case: dict[str, dict[str, Any]]) -> list[str]:
    """The weight choices every fold has: best and last, and averaged when all folds averaged."""
    return ["best", "last"] + (["averaged"] if all("averaged" in scores for scores in per_case.values()) else [])


def _table(per_case: dict[str, dict[str, Any]]) -> str:
    """CSV: one row per case and epoch choice, Dice per region."""
    regions = list(next(iter(per_case.values()))["best"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case", "epochs", "epoch", *regions])
    for name, scores in per_case.items():
        for which in _choices(per_case):
            writer.writerow([name, which, scores[f"{which}_epoch"],
                             *(f"{scores[which][region]:.4f}" for region in regions)])
    return buffer.getvalue()
