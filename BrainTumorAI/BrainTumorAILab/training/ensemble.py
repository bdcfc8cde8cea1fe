"""Training runs of one network as one model (``braintumorai train ensemble``, ensemble_cli.py).

The members (``train segmentation`` output folders, e.g. the same recipe under different seeds) must share their
network, inputs, outputs, preprocessing and inference settings. The output folder is itself a run folder
(``model.safetensors`` with keys ``members.<i>.*`` and ``training.json``), so ``segment --trained DIR`` runs it and
a model card can ship it; its network is ``networks/ensemble.py``, which averages the members' probabilities.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from BrainTumorAILib.core.atomic import write_json
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.weights import load_model, sha256_of
from BrainTumorAILib.inference.networks.ensemble import MeanProbabilityEnsemble
from .config import parse_config
from .segmentation import save_weights
from .trained import SUMMARY, WEIGHTS, card_of_run, run_summary, weights_dice

SHARED = ("architecture", "inputs", "outputs", "preprocessing", "inference")


def combine_runs(runs: Sequence[str | Path], out: str | Path, *, command: str | None = None) -> dict[str, Any]:
    """Write the ensemble of ``runs`` to ``out``; return its summary. Raises InputError, naming the folder, when a
    run is unfinished or differs from the first in its network, inputs, outputs, preprocessing or inference."""
    if len(runs) < 2:
        raise InputError("An ensemble needs at least two training runs")
    folders = [Path(folder) for folder in runs]
    summaries = [run_summary(folder) for folder in folders]
    first = summaries[0]["config"]
    for folder, summary in zip(folders[1:], summaries[1:]):
        different = [key for key in SHARED if summary["config"].get(key) != first.get(key)]
        if different:
            raise InputError(f"{folder} differs from {folders[0]} in {', '.join(different)}; an ensemble's members "
                             "must share them")
    members = [load_model(card_of_run(folder), progress=False) for folder in folders]
    ensemble = MeanProbabilityEnsemble(members, first["outputs"]["activation"])
    config = copy.deepcopy(first)
    config["architecture"] = {"name": "ensemble", "params": {
        "network": first["architecture"], "members": len(members), "activation": first["outputs"]["activation"]}}
    parse_config(config)
    out = Path(out)
    save_weights(ensemble, out / WEIGHTS)
    validation = [summary.get("validation_cases", []) for summary in summaries]
    summary = {
        "config": config, "command": command,
        "validation_cases": validation[0] if all(cases == validation[0] for cases in validation) else [],
        "members": [{"run": str(folder), "sha256": sha256_of(folder / WEIGHTS), "seed": summary.get("seed"),
                     "command": summary.get("command"), "best_epoch": summary.get("best_epoch"),
                     "validation_dice": weights_dice(summary)}
                    for folder, summary in zip(folders, summaries)],
    }
    write_json(summary, out / SUMMARY)
    return summary

