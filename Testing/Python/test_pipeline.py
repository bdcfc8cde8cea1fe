"""The engine pipeline end to end with the shipped models: one data path for the panel, batch and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.errors import BrainTumorAIError, Cancelled
from BrainTumorAILib.core.image import Image, save_image
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.pipeline import PipelineOptions, PipelineResult, run_pipeline
from BrainTumorAILib.report import _caption, write_outputs


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=11, shape=(96, 96, 80), spacing=(2.0, 2.0, 2.0))


@pytest.fixture(scope="module")
def full_run(phantom):
    steps = []
    result = run_pipeline(Case(phantom.images, "phantom"), PipelineOptions(device="cpu"),
                          progress=lambda percent, step: steps.append((percent, step)))
    return result, steps


def test_every_output_lies_on_the_reference_grid(full_run, phantom):
    result, _ = full_run
    reference = phantom.images["t1c"]
    assert result.reference == "t1c"
    for image in (result.brain_mask, result.stripped, result.segmentation.classes, result.segmentation.labels):
        assert image.same_grid(reference)


def test_progress_runs_from_zero_to_hundred_in_order(full_run):
    _, steps = full_run
    percents = [percent for percent, _ in steps]
    assert percents[0] == 0 and percents[-1] == 100
    assert percents == sorted(percents)
    named = [step.split(":")[0] for _, step in steps]
    assert named.index("strip") < named.index("segment") < named.index("classify")  # classify reads the tumour


def test_stripped_volume_is_the_reference_inside_the_brain_mask(full_run, phantom):
    result, _ = full_run
    mask, truth = result.brain_mask.array > 0, phantom.brain_mask.array > 0
    reference = phantom.images["t1c"].array
    np.testing.assert_array_equal(result.stripped.array[mask], reference[mask])
    assert not np.any(result.stripped.array[~mask])
    # the bundled stripper is weak on phantoms (Dice about 0.5, see its model card): this guards the wiring
    # (mask on the right voxels, not shifted or flipped), not the stripper's quality, which its own tests measure
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    assert dice > 0.4


def test_report_names_models_times_and_volumes(full_run):
    result, _ = full_run
    report = json.loads(json.dumps(result.report()))
    assert set(report["models"]) == {"skull_stripping", "classification", "segmentation"}
    assert {"co_register", "strip", "classify", "segment", "total"} <= set(report["timings_s"])
    assert set(report["volumes_ml"]) >= {"WT", "TC", "ET"}
    assert report["classification"]["label"] in ("glioma", "meningioma", "notumor", "pituitary", "uncertain")
    assert report["classification"]["slices_through"] in ("tumour", "head")
    assert report["classification"]["tumour_volume_ml"] == report["volumes_ml"]["WT"]
    assert report["intended_use"].startswith("Research only")
    whole = report["volumes_ml"]["WT"]
    voxels = np.count_nonzero(result.segmentation.classes.array)
    assert whole == pytest.approx(voxels * 8 / 1000, rel=1e-3)


def test_write_outputs_writes_every_file_and_no_temporary(full_run, tmp_path):
    result, _ = full_run
    written = write_outputs(result, tmp_path)
    assert {path.name for path in tmp_path.iterdir()} == {path.name for path in written.values()}
    assert {"labels.nii.gz", "brainmask.nii.gz", "report.json", "report.png", "classification.png"} <= {
        p.name for p in tmp_path.iterdir()}
    for picture in ("report.png", "classification.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.classification_slices.shape[0] == result.classification["slices"]
    assert "slice_images" not in json.loads((tmp_path / "report.json").read_text())["classification"]


def test_cancel_stops_the_run_before_the_next_step(phantom):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled, match="cancelled"):
        run_pipeline(Case(phantom.images, "phantom"), PipelineOptions(device="cpu"), cancel=cancel)


def test_unknown_step_is_refused():
    with pytest.raises(BrainTumorAIError, match="Unknown pipeline step"):
        PipelineOptions(steps=("strip", "dance"))


def test_segmentation_without_its_sequences_is_refused_and_writes_nothing(phantom, tmp_path, capsys):
    save_image(phantom.images["t1"], tmp_path / "case" / "t1.nii.gz")
    code = main(["run", "--case", str(tmp_path / "case"), "-o", str(tmp_path / "out"), "--steps", "segment"])
    assert code == 2
    assert "needs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_batch_processes_cases_skips_finished_and_counts_failures(phantom, tmp_path, capsys):
    cases = tmp_path / "cases"
    for name in ("a", "b"):
        for sequence in ("flair", "t1c"):
            save_image(phantom.images[sequence], cases / name / f"{name}_{sequence}.nii.gz")
    broken = cases / "c" / "c_flair.nii.gz"
    broken.parent.mkdir()
    broken.write_bytes(b"not an image")
    out = tmp_path / "out"
    arguments = ["batch", "--cases", str(cases), "-o", str(out), "--steps", "segment", "--device", "cpu"]
    assert main(arguments) == 1
    log = capsys.readouterr().err
    assert "[3/3] c: FAILED" in log and "c_flair.nii.gz" in log
    assert (out / "a" / "report.json").exists() and (out / "b" / "labels.nii.gz").exists()
    assert not (out / "c").exists()
    assert main(arguments) == 1
    assert "already finished" not in log
    assert capsys.readouterr().err.count("skipped (already finished)") == 2


def test_rotated_input_grid_gets_outputs_on_its_own_grid(tmp_path):
    phantom = make_phantom(seed=5, shape=(80, 84, 72), spacing=(2.0, 2.2, 2.5), oblique=True)
    result = run_pipeline(Case(phantom.images, "oblique"), PipelineOptions(steps=("strip", "segment"), device="cpu"))
    assert result.segmentation.labels.same_grid(phantom.images["t1c"])
    assert result.brain_mask.same_grid(phantom.images["t1c"])
    assert isinstance(result.reference_image, Image)


def test_the_picture_caption_gives_the_class_and_its_reason():
    image = Image(np.zeros((4, 4, 4), dtype=np.float32), np.eye(4))
    reason = "the segmentation found a 35.0 mL tumour but 12 of 15 slices voted notumor"
    result = PipelineResult("case", "t1c", image, {}, classification={"label": "uncertain", "reason": reason})
    assert f"class: uncertain ({reason}) |" in _caption(result)
