"""The Logic on real MRML: inputs by name, bad inputs, in-process and child-process runs, progress and cancel.

Uses a tiny random segmentation model (seg_models.py) so the plumbing is tested in seconds; the self-test
(test_slicer_selftest.py) runs the bundled models.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import slicer_harness
from slicer_harness import scene  # noqa: F401  (fixture)
from seg_models import SOFTMAX_OUTPUTS, tiny_card, write_registry

slicer = pytest.importorskip("slicer")

from BrainTumorAILib.core.errors import BrainTumorAIError  # noqa: E402
from BrainTumorAILib.core.phantom import make_phantom  # noqa: E402
from BrainTumorAILib.pipeline import PipelineOptions  # noqa: E402
from BrainTumorAISlicer import mrml  # noqa: E402
from BrainTumorAISlicer.logic import PipelineLogic  # noqa: E402

SEGMENT_ONLY = PipelineOptions(steps=("segment",), device="cpu")


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    write_registry(tmp_path, [tiny_card("tiny-seg", ["flair", "t1c", "t2"], SOFTMAX_OUTPUTS)], monkeypatch)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=8, shape=(40, 40, 32), spacing=(4.0, 4.0, 4.0), oblique=True)


def _volumes(scene, phantom) -> dict:
    return {sequence: mrml.add_volume(scene, image.array, image.affine, f"case-{sequence}")
            for sequence, image in phantom.images.items()}


def _classes(nodes, reference) -> np.ndarray:
    """The segmentation node's segments as a class map (I, J, K) on the reference grid."""
    classes = np.zeros(reference.GetImageData().GetDimensions(), np.uint8)
    for cls, identifier in enumerate(("necrosis", "edema", "enhancing"), start=1):
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(nodes.segmentation, identifier, reference)
        classes[mask.transpose(2, 1, 0) > 0] = cls
    return classes


def test_inputs_are_recognised_by_volume_name(scene):
    names = ["BraTS-GLI-00001-000-t2f", "BraTS-GLI-00001-000-t1c", "T1_pre", "case_t2w", "tumour_seg", "T1ce"]
    nodes = [slicer.util.addVolumeFromArray(np.zeros((2, 2, 2)), name=name) for name in names]
    assigned = {sequence: node.GetName() for sequence, node in PipelineLogic.assignInputs(nodes).items()}
    assert assigned == {"flair": "BraTS-GLI-00001-000-t2f", "t1c": "BraTS-GLI-00001-000-t1c", "t1": "T1_pre",
                        "t2": "case_t2w"}


@pytest.mark.parametrize("problem", ["missing", "2D", "no overlap", "nothing selected"])
def test_bad_inputs_give_a_message_and_leave_the_scene_as_it_was(scene, phantom, tiny_model, problem):
    inputs = _volumes(scene, phantom)
    flair = phantom.images["flair"]
    if problem == "missing":
        inputs.pop("t2")
        expected = "lacks t2"
    elif problem == "2D":
        inputs["flair"] = mrml.add_volume(scene, flair.array[:, :, 7:8], flair.affine, "flat-flair")
        expected = "is 2D"
    elif problem == "no overlap":
        far = flair.affine.copy()
        far[:3, 3] += 500.0
        inputs["flair"] = mrml.add_volume(scene, flair.array, far, "far-flair")
        expected = "do not overlap"
    else:
        inputs = {}
        expected = "Select at least one input"
    before = slicer_harness.node_ids(scene)
    with pytest.raises(BrainTumorAIError, match=expected):
        PipelineLogic().process(inputs, SEGMENT_ONLY)
    with pytest.raises(BrainTumorAIError, match=expected):
        PipelineLogic().startProcess(inputs, SEGMENT_ONLY)
    assert slicer_harness.node_ids(scene) == before


def test_in_process_run_adds_a_segmentation_that_agrees_with_the_engine_and_the_report(scene, phantom, tiny_model):
    inputs = _volumes(scene, phantom)
    progress = []
    nodes = PipelineLogic().process(inputs, SEGMENT_ONLY, progress=lambda p, step: progress.append(p), name="case")
    assert nodes.segmentation.GetName() == "case tumour" and nodes.brain is None and nodes.classification is None
    np.testing.assert_array_equal(_classes(nodes, inputs["t1c"]), nodes.engine.segmentation.classes.array)
    voxel_ml = float(np.prod(phantom.images["t1c"].spacing)) / 1000.0
    found = _classes(nodes, inputs["t1c"])
    assert nodes.report["volumes_ml"]["WT"] == pytest.approx(np.count_nonzero(found) * voxel_ml, abs=1e-3)
    assert progress[-1] == 100.0 and progress == sorted(progress)


@pytest.mark.slow  # a child Python that imports torch and MONAI
def test_child_process_run_gives_the_same_segments_as_the_in_process_run(scene, phantom, tiny_model):
    inputs = _volumes(scene, phantom)
    logic = PipelineLogic()
    here = _classes(logic.process(inputs, SEGMENT_ONLY, name="here"), inputs["t1c"])
    job = logic.startProcess(inputs, SEGMENT_ONLY, name="child")
    try:
        state = job.process.wait(timeout=120)
        assert state.succeeded, state.error
        assert state.percent == 100.0 and state.step == "done"
        nodes = logic.finishProcess(job)
    finally:
        job.process.cleanup()
    assert not job.process.work_dir.exists()
    child = _classes(nodes, inputs["t1c"])
    assert np.mean(child == here) > 0.999
    np.testing.assert_allclose(mrml.ijk_to_ras(inputs["t1c"]), slicer.util.arrayFromVTKMatrix(
        _labelmap_matrix(nodes.segmentation, "edema")), atol=1e-9)


def _labelmap_matrix(segmentation, identifier):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    segmentation.GetBinaryLabelmapInternalRepresentation(identifier).GetImageToWorldMatrix(matrix)
    return matrix


@pytest.mark.slow  # a child Python that imports torch and MONAI
def test_cancel_kills_the_child_and_adds_nothing(scene, phantom, tiny_model):
    inputs = _volumes(scene, phantom)
    before = slicer_harness.node_ids(scene)
    job = PipelineLogic().startProcess(inputs, SEGMENT_ONLY)
    deadline = time.monotonic() + 60
    while job.process.poll().step == "starting" and time.monotonic() < deadline:
        time.sleep(0.05)  # wait for the first progress line: the child is up and working
    job.process.cancel()
    state = job.process.poll()
    assert state.cancelled and not state.running
    with pytest.raises(ProcessLookupError):
        os.kill(job.process._process.pid, 0)
    with pytest.raises(BrainTumorAIError):
        PipelineLogic().finishProcess(job)
    job.process.cleanup()
    assert not job.process.work_dir.exists()
    assert slicer_harness.node_ids(scene) == before


@pytest.mark.slow  # a child Python that imports torch and MONAI
def test_a_failing_child_reports_the_engine_message(scene, phantom, tmp_path, monkeypatch):
    write_registry(tmp_path, [tiny_card("tiny-seg", ["flair", "t1c", "t2"], SOFTMAX_OUTPUTS)], monkeypatch)
    (tmp_path / "tiny-seg.safetensors").write_bytes(b"not the weights")  # only the child loads the weights
    job = PipelineLogic().startProcess(_volumes(scene, phantom), SEGMENT_ONLY)
    state = job.process.wait(timeout=120)
    job.process.cleanup()
    assert state.returncode == 2 and not state.succeeded
    assert "tiny-seg" in state.error and "sha256" in state.error.lower()


def test_test_time_augmentation_adds_an_uncertainty_volume_on_the_reference_grid(scene, phantom, tiny_model):
    inputs = _volumes(scene, phantom)
    nodes = PipelineLogic().process(inputs, PipelineOptions(steps=("segment",), device="cpu", tta=True), name="tta")
    assert nodes.uncertainty is not None and nodes.uncertainty.GetName() == "tta uncertainty"
    np.testing.assert_allclose(mrml.ijk_to_ras(nodes.uncertainty), mrml.ijk_to_ras(inputs["t1c"]))
    np.testing.assert_allclose(mrml.image_from_volume(nodes.uncertainty).array,
                               nodes.engine.segmentation.uncertainty.array, atol=1e-6)
