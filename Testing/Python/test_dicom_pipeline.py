"""A DICOM round trip through the CLI: NIfTI -> DICOM series written here -> ``braintumorai run --case DICOM_DIR``
gives the labels of the NIfTI run, and the DICOM SEG beside them references the reference series."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.image import Image, load_image, save_image
from BrainTumorAILib.core.phantom import make_phantom
from test_dicom import write_series

# description, TR, TE, TI, contrast agent of each sequence's series
PROTOCOL = {"flair": ("AX FLAIR", 9000.0, 120.0, 2500.0, None), "t1": ("AX T1 SE", 500.0, 10.0, None, None),
            "t1c": ("AX T1 POST GAD", 500.0, 10.0, None, "GADOLINIUM"), "t2": ("AX T2 TSE", 4000.0, 100.0, None, None)}
RUN = ["--steps", "segment", "--device", "cpu"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The same skull-stripped phantom study as NIfTI files and as a tree of DICOM series (integer voxels)."""
    root = tmp_path_factory.mktemp("study")
    phantom = make_phantom(seed=11, shape=(80, 80, 64), spacing=(2.0, 2.0, 2.5))
    brain = phantom.brain_mask.array > 0
    for number, (sequence, (description, tr, te, ti, agent)) in enumerate(PROTOCOL.items(), start=1):
        voxels = np.where(brain, np.rint(phantom.images[sequence].array * 1000.0 + 50.0), 0).astype(np.int16)
        image = Image(voxels, phantom.images[sequence].affine)
        save_image(image, root / "nifti" / f"{sequence}.nii.gz")
        write_series(root / "dicom" / f"series{number}", image, description, tr, te, ti, agent, number=number)
    return root


def test_a_dicom_study_segments_as_its_nifti_and_gets_a_dicom_seg(study, tmp_path, capsys):
    assert main(["run", "--case", str(study / "nifti"), "-o", str(tmp_path / "nifti"), *RUN]) == 0
    assert main(["run", "--case", str(study / "dicom"), "-o", str(tmp_path / "dicom"), *RUN]) == 0
    report = json.loads((tmp_path / "dicom" / "report.json").read_text())
    assert report["outputs"]["dicom_seg"] == "segmentation.dcm"
    from_nifti = load_image(tmp_path / "nifti" / "labels.nii.gz", label=True)
    from_dicom = load_image(tmp_path / "dicom" / "labels.nii.gz", label=True)
    assert from_nifti.array.any()
    np.testing.assert_allclose(from_dicom.affine, from_nifti.affine, atol=1e-3)
    np.testing.assert_array_equal(from_dicom.array, from_nifti.array)

    seg = pydicom.dcmread(tmp_path / "dicom" / "segmentation.dcm")
    assert seg.Modality == "SEG"
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Necrosis", "Edema", "Enhancing tumor"]
    t1c_uid = pydicom.dcmread(next((study / "dicom" / "series3").iterdir()), stop_before_pixels=True).SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == t1c_uid
    frames = seg.pixel_array.reshape(-1, *seg.pixel_array.shape[-2:])
    assert int(frames.sum()) == int(np.count_nonzero(from_dicom.array))


def test_series_flags_are_refused_for_image_files(study, tmp_path):
    assert main(["run", "--case", str(study / "nifti"), "--series", "flair=1.2.3", "-o", str(tmp_path / "x"),
                 *RUN]) == 2
