"""The ``segment`` and ``evaluate`` commands end to end on phantom files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from seg_models import SIGMOID_OUTPUTS, SOFTMAX_OUTPUTS, tiny_card, write_phantom_case, write_registry

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.image import Image, load_image, save_image
from BrainTumorAILib.core.labels import to_convention
from BrainTumorAILib.core.phantom import make_phantom


@pytest.fixture
def case_dir(tmp_path, monkeypatch):
    write_registry(tmp_path, [tiny_card("tiny-softmax", ["flair", "t1c"], SOFTMAX_OUTPUTS),
                              tiny_card("tiny-bundle", ["t1c", "t1", "t2", "flair"], SIGMOID_OUTPUTS)], monkeypatch)
    return write_phantom_case(tmp_path / "case")


def test_segment_writes_the_label_map_on_the_t1c_grid_and_prints_volumes(case_dir, tmp_path, capsys):
    out = tmp_path / "out" / "labels.nii.gz"
    uncertainty = tmp_path / "out" / "uncertainty.nii.gz"
    assert main(["segment", "--case", str(case_dir), "--model", "tiny-softmax", "--device", "cpu",
                 "--uncertainty", str(uncertainty), "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    labels, t1c = load_image(out, label=True), load_image(case_dir / "case_t1c.nii.gz")
    assert labels.same_grid(t1c) and labels.orientation == "LPS" and labels.array.dtype == np.uint8
    assert report["reference"] == "t1c" and report["labels"] == "brats2021"
    voxel_ml = np.prod(t1c.spacing) / 1000
    assert report["volumes_ml"]["WT"] == pytest.approx(np.count_nonzero(labels.array) * voxel_ml, abs=1e-3)
    assert load_image(uncertainty).same_grid(t1c)


def test_segment_with_a_missing_sequence_fails_clearly_and_writes_nothing(case_dir, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(["segment", "--flair", str(case_dir / "case_flair.nii.gz"), "--t1c", str(case_dir / "case_t1c.nii.gz"),
                 "--model", "tiny-bundle", "--device", "cpu", "-o", str(out_dir / "labels.nii.gz")])
    assert code == 2
    assert "lacks t1, t2" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


def test_evaluate_pairs_cases_prints_a_table_and_writes_a_csv(tmp_path, capsys):
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "pred"
    truth = np.zeros((30, 30, 30), dtype=np.uint8)
    truth[5:20, 5:20, 5:20] = 2
    truth[8:14, 8:14, 8:14] = 3
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    for name in ("caseA", "caseB"):
        # truth in case sub-folders with the BraTS 2013 names, predictions as flat brats2023 files
        save_image(Image(to_convention(truth, "brats2021"), affine), truth_dir / name / "OTMultiClass.nii.gz")
    save_image(Image(to_convention(truth, "brats2023"), affine), pred_dir / "caseA-seg.nii.gz")
    no_et = np.where(truth == 3, 1, truth).astype(np.uint8)
    save_image(Image(to_convention(no_et, "brats2023"), affine), pred_dir / "caseB.nii.gz")
    save_image(Image(to_convention(truth, "brats2023"), affine), pred_dir / "caseC.nii.gz")
    table = tmp_path / "scores.csv"
    assert main(["evaluate", "--pred", str(pred_dir), "--truth", str(truth_dir), "--labels", "brats2023",
                 "--truth-labels", "brats2013", "--csv", str(table)]) == 0
    captured = capsys.readouterr()
    assert "caseA" in captured.out and "mean" in captured.out and "caseC" in captured.err
    rows = {row["case"]: row for row in csv.DictReader(table.open())}
    assert set(rows) == {"caseA", "caseB", "mean"}
    assert float(rows["caseA"]["ET_dice"]) == 1.0 and float(rows["caseA"]["WT_hd95"]) == 0.0
    assert float(rows["caseB"]["ET_dice"]) == 0.0 and float(rows["caseB"]["ET_hd95"]) == 373.13
    assert float(rows["caseB"]["TC_dice"]) == 1.0
    assert float(rows["mean"]["ET_dice"]) == 0.5
    # the challenge's own figures follow ours, in a second table and further CSV columns
    header = table.read_text().splitlines()[0].split(",")
    assert header[:7] == ["case", "WT_dice", "TC_dice", "ET_dice", "WT_hd95", "TC_hd95", "ET_hd95"]
    assert "BraTS 2023+ definition" in captured.out and "lesion_dice" in captured.out
    assert float(rows["caseA"]["brats23_WT_lesion_dice"]) == 1.0 and rows["caseA"]["brats23_ET_tp"] == "1"
    assert float(rows["caseB"]["brats23_ET_lesion_hd95"]) == float("inf")
    assert float(rows["caseB"]["brats23_ET_hd95"]) == 373.0 and rows["caseB"]["brats23_ET_fn"] == "1"
    assert float(rows["mean"]["brats23_ET_lesion_dice"]) == 0.5


def test_segment_applies_the_small_et_rule_when_asked(case_dir, tmp_path, capsys):
    plain, ruled = tmp_path / "plain.nii.gz", tmp_path / "ruled.nii.gz"
    common = ["segment", "--case", str(case_dir), "--model", "tiny-softmax", "--device", "cpu"]
    assert main([*common, "-o", str(plain)]) == 0
    assert main([*common, "--small-et-ml", "1e6", "-o", str(ruled)]) == 0
    before, after = load_image(plain, label=True).array, load_image(ruled, label=True).array
    assert (before == 4).any() and not (after == 4).any()
    np.testing.assert_array_equal(after > 0, before > 0)


def test_segment_with_weights_of_another_channel_count_fails_clearly_and_writes_nothing(tmp_path, monkeypatch,
                                                                                        capsys):
    card, _ = tiny_card("two-inputs", ["flair", "t1c"], SOFTMAX_OUTPUTS)
    _, four_channel_state = tiny_card("four", ["t1c", "t1", "t2", "flair"], SOFTMAX_OUTPUTS)
    write_registry(tmp_path, [(card, four_channel_state)], monkeypatch)
    phantom = make_phantom(6, shape=(24, 24, 24), spacing=(8.0, 8.0, 8.0))
    paths = {name: save_image(phantom.images[name], tmp_path / "in" / f"{name}.nii.gz") for name in ("flair", "t1c")}
    out_dir = tmp_path / "out"
    code = main(["segment", "--flair", str(paths["flair"]), "--t1c", str(paths["t1c"]), "--model", "two-inputs",
                 "-o", str(out_dir / "labels.nii.gz")])
    assert code == 2
    assert "do not fit" in capsys.readouterr().err
    assert not out_dir.exists()
