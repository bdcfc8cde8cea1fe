"""``braintumorai classify``: through the segmented tumour when the study allows it, else 27 head slices."""

from __future__ import annotations

import json

import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.image import save_image
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.pipeline import PipelineOptions, run_pipeline


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=11, shape=(96, 96, 80), spacing=(2.0, 2.0, 2.0))


@pytest.fixture(scope="module")
def case_dir(phantom, tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantom")
    for sequence, image in phantom.images.items():
        save_image(image, folder / f"{sequence}.nii.gz")
    return folder


def classify(capsys, *arguments: str) -> dict:
    assert main(["classify", "--brief", "--device", "cpu", *arguments]) == 0
    return json.loads(capsys.readouterr().out)


def test_default_classifies_through_the_tumour_the_pipeline_segments(case_dir, phantom, capsys):
    answer = classify(capsys, "--case", str(case_dir))
    assert answer["located_by"].startswith("segmentation ")
    piped = run_pipeline(Case(phantom.images, "phantom"), PipelineOptions(device="cpu")).classification
    assert answer["tumour_volume_ml"] == pytest.approx(piped["tumour_volume_ml"])
    assert (answer["label"], answer["vote_counts"], answer["slices_through"]) == \
        (piped["label"], piped["vote_counts"], piped["slices_through"])


def test_head_slices_on_request_and_when_the_segmenter_cannot_run(case_dir, capsys):
    asked = classify(capsys, "--case", str(case_dir), "--slices", "head")
    assert (asked["located_by"], asked["slices_through"], sum(asked["vote_counts"].values())) == \
        ("head slices", "head", 27)
    alone = classify(capsys, "--t1", str(case_dir / "t1.nii.gz"))
    assert alone["slices_through"] == "head"
    assert "lacks the segmenter's flair, t1c" in alone["located_by"]


def test_tumour_slices_without_the_needed_sequences_is_a_clear_error(case_dir, capsys):
    assert main(["classify", "--t1", str(case_dir / "t1.nii.gz"), "--slices", "tumour"]) == 2
    error = capsys.readouterr().err
    assert "flair, t1c" in error and "--slices head" in error
