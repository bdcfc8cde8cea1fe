"""The cross-validated postprocessing search: a tiny fold run predicts its held-out phantoms, every candidate is
scored on those maps, and the card's current setting scores what the shipped `segment` path gives."""

from __future__ import annotations

import json
import math

import pytest
from seg_training_data import tiny_config, write_phantoms

from BrainTumorAILab.training.config import load_config
from BrainTumorAILab.training.datasets import discover, select
from BrainTumorAILab.training.postprocess_search import GRID, main
from BrainTumorAILab.training.segmentation import train_segmentation
from BrainTumorAILab.training.trained import card_of_run
from BrainTumorAILab.training.validation import region_dice
from BrainTumorAILib.core.case import load_case
from BrainTumorAILib.core.labels import from_convention
from BrainTumorAILib.tasks.segmentation.segment import segment_case

CURRENT = {"min_component_ml": 0.1, "min_component_fraction": 0.25, "fill_holes": True, "fluid_veto": True}


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    names = write_phantoms(root / "cases", [21, 22, 23, 24])
    run = root / "run"
    train_segmentation(load_config(tiny_config(root)), root / "cases", run, names[-2:], progress=False)
    return root, run, names[-2:]


def test_search_scores_every_candidate_on_the_held_out_maps(fold, tmp_path):
    root, run, held_out = fold
    card = card_of_run(run)
    truths = {case.name: case.load(["flair"])[1] for case in select(discover(root / "cases"), held_out)}
    current = {}
    for tta in (False, True):
        out = tmp_path / f"search-{tta}.json"
        arguments = ["--out", str(out), "--current", json.dumps(CURRENT),
                     "--fold", str(run), *[str(root / "cases" / name) for name in held_out]]
        assert main(arguments + (["--tta"] if tta else [])) == 0

        result = json.loads(out.read_text())
        assert result["tta"] is tta
        assert [row["case"] for row in result["cases"]] == held_out
        assert len(result["candidates"]) == math.prod(len(values) for values in GRID.values())
        best = result["candidates"][0]["mean"]["mean_dice"]
        assert all(row["mean"]["mean_dice"] <= best for row in result["candidates"])
        # the current setting's figures are the shipped path's: segment_case with that postprocessing, scored alone
        for name in held_out:
            labels = segment_case(load_case(root / "cases" / name), card=card, postprocessing=CURRENT,
                                  device="cpu", tta=tta).labels
            expected = region_dice(from_convention(labels.array), truths[name])
            row = result["current"]["per_case"][name]
            assert {region: row[region] for region in expected} == pytest.approx(expected, abs=1e-4)
            assert set(row["HD95_mm"]) == {"WT", "TC", "ET"}
        current[tta] = result["current"]["per_case"]
    assert current[True] != current[False]  # --tta reaches the predictions: the flips move this model's maps
