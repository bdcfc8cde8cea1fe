"""The lab's study check: a head classified as `classify` does, by both ways, and again as thick axial slabs."""

from __future__ import annotations

import json

from classification_models import tiny_registry  # noqa: F401 (fixture)

from BrainTumorAILab.classification.studies import main
from BrainTumorAILib.core.image import save_image
from BrainTumorAILib.core.phantom import make_phantom


def test_every_study_is_also_classified_as_thick_slabs(tiny_registry, tmp_path, capsys):
    phantom = make_phantom(5, shape=(72, 72, 60), spacing=(2.0, 2.0, 2.0), tumour=False)
    head = tmp_path / "head"
    head.mkdir()
    save_image(phantom.images["t1"], head / "phantom_T1w.nii.gz")
    save_image(phantom.brain_mask, head / "phantom_brainmask.nii.gz")
    assert main(["--models", "classifier-tiny", "--heads", str(head), "--thick-mm", "6"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows = {row["way"]: row for row in lines[:-1]}
    assert list(rows) == ["head", "head-thick", "tumour", "tumour-thick"]
    for row in rows.values():
        assert row["study"] == "head" and row["expected"] == "notumor"
        assert sum(len(votes) for votes in row["votes"].values()) == sum(row["vote_counts"].values()) == 27
    assert set(lines[-1]["right"]) == set(rows)
    assert rows["head"]["warnings"] == rows["tumour"]["warnings"] == []
    for way in ("head-thick", "tumour-thick"):  # slabs of 6 mm: the sagittal and coronal views are reformats
        assert rows[way]["warnings"][0].startswith("the sagittal and coronal slices are reformatted across 6.0 mm")
