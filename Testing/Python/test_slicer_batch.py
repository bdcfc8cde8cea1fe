"""The Slicer batch script on slicer-core: per-case outputs in Slicer's format, failures logged, re-runs skip."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import slicer_harness
from seg_models import SOFTMAX_OUTPUTS, tiny_card, write_registry

slicer = pytest.importorskip("slicer")
vtk = pytest.importorskip("vtk")

from BrainTumorAILib.core.image import load_image, save_image  # noqa: E402
from BrainTumorAILib.core.phantom import make_phantom  # noqa: E402
from BrainTumorAISlicer import mrml  # noqa: E402

BATCH_SCRIPT = slicer_harness.MODULE_DIR / "Scripts" / "batch.py"


@pytest.fixture(scope="module")
def batch():
    spec = importlib.util.spec_from_file_location("braintumorai_batch", BATCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cases(tmp_path, monkeypatch):
    """Two phantom cases (one oblique, BraTS 2023 names) and one whose only file is not an image."""
    write_registry(tmp_path, [tiny_card("tiny-seg", ["flair", "t1c", "t2"], SOFTMAX_OUTPUTS)], monkeypatch)
    root = tmp_path / "cases"
    names = {"flair": "t2f", "t1": "t1n", "t1c": "t1c", "t2": "t2w"}
    for seed, oblique in ((1, False), (2, True)):
        phantom = make_phantom(seed, shape=(36, 36, 30), spacing=(5.0, 5.0, 5.0), oblique=oblique)
        for sequence, image in phantom.images.items():
            save_image(image, root / f"case{seed}" / f"case{seed}-{names[sequence]}.nii.gz")
    (root / "broken").mkdir()
    (root / "broken" / "broken-t1c.nii.gz").write_bytes(b"not an image")
    slicer_harness.reset()
    return root


def test_batch_writes_slicer_segmentations_logs_failures_and_skips_finished_cases(batch, cases, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--cases", str(cases), "--out", str(out), "--steps", "segment", "--device", "cpu"]
    assert batch.main(argv) == 1  # the exit code counts failed cases
    log = capsys.readouterr().err
    assert "broken: FAILED" in log and "could not read" in log
    assert sorted(p.name for p in out.iterdir()) == ["case1", "case2"]  # no partial folder left
    for case in ("case1", "case2"):
        folder = out / case
        assert {"segmentation.seg.nrrd", "labels.nii.gz", "report.json", "report.png"} <= {p.name for p in
                                                                                             folder.iterdir()}
        report = json.loads((folder / "report.json").read_text())
        assert report["slicer"]["segmentation"] == "segmentation.seg.nrrd"
        assert {"segment", "render_3d", "slicer_logic"} <= set(report["timings_s"])
        t1c = slicer.modules.volumes.logic().AddArchetypeVolume(str(cases / case / f"{case}-t1c.nii.gz"), "t1c", 0)
        loaded = slicer.modules.segmentations.logic().LoadSegmentationFromFile(
            str(folder / "segmentation.seg.nrrd"), False)
        segmentation = loaded.GetSegmentation()
        assert [segmentation.GetNthSegment(n).GetName() for n in range(3)] == ["Necrosis", "Edema",
                                                                                  "Enhancing tumor"]
        assert all("SCT^49755003" in segmentation.GetNthSegment(n).GetTerminology() for n in range(3))
        for n in range(3):  # each segment's voxels lie on the t1c grid itself, not a resampled copy
            labelmap = loaded.GetBinaryLabelmapInternalRepresentation(segmentation.GetNthSegmentID(n))
            matrix = vtk.vtkMatrix4x4()
            labelmap.GetImageToWorldMatrix(matrix)
            np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(matrix), mrml.ijk_to_ras(t1c), atol=1e-6)
        labels = load_image(folder / "labels.nii.gz", label=True)
        np.testing.assert_allclose(labels.affine, mrml.ijk_to_ras(t1c), atol=1e-4)
        for label, identifier in ((1, "necrosis"), (2, "edema"), (4, "enhancing")):
            mask = slicer.util.arrayFromSegmentBinaryLabelmap(loaded, identifier, t1c)
            np.testing.assert_array_equal(mask.transpose(2, 1, 0) > 0, labels.array == label)
        from PIL import Image

        picture = np.asarray(Image.open(folder / "report.png").convert("RGB"))
        render = picture[:, picture.shape[1] // 2 + 100:]  # the 3D panel right of the mosaic
        assert render.std() > 10, "the 3D render is blank"

    stamp = (out / "case1" / "report.json").stat().st_mtime_ns
    assert batch.main(argv) == 1
    log = capsys.readouterr().err
    assert "case1: skipped" in log and "case2: skipped" in log
    assert (out / "case1" / "report.json").stat().st_mtime_ns == stamp
