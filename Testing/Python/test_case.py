"""Finding a case's sequences by name, checking they overlap, and putting them on one grid."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import find_sequences, harmonise, load_case, sequence_of
from BrainTumorAILib.core.errors import InputError


@pytest.mark.parametrize("name, sequence", [
    ("BraTS20_Training_001_flair.nii.gz", "flair"),
    ("BraTS20_Training_001_t1ce.nii.gz", "t1c"),
    ("BraTS20_Training_001_t1.nii.gz", "t1"),
    ("BraTS20_Training_001_t2.nii.gz", "t2"),
    ("BraTS-GLI-00001-000-t2f.nii.gz", "flair"),
    ("BraTS-GLI-00001-000-t1c.nii.gz", "t1c"),
    ("BraTS-GLI-00001-000-t1n.nii.gz", "t1"),
    ("BraTS-GLI-00001-000-t2w.nii.gz", "t2"),
    ("Flair_subtrMeanDivStd.nii.gz", "flair"),
    ("T1c_subtrMeanDivStd.nii.gz", "t1c"),
    ("flair.nii.gz", "flair"),
    ("t1c.nii.gz", "t1c"),
    ("T1.nii", "t1"),
    ("t2.nrrd", "t2"),
    ("patient_POST_GAD.nii.gz", "t1c"),
    ("sub-01_T1w.nii.gz", "t1"),
    ("brainmask-hdbet-on-t1c.nii.gz", None),
    ("OTMultiClass.nii.gz", None),
    ("BraTS20_Training_001_seg.nii.gz", None),
    ("notes_t1.txt", None),
])
def test_sequence_names_are_recognised_without_confusing_t1_t1c_t2_t2f(name, sequence):
    assert sequence_of(name) == sequence


def write(path, array, affine):
    nib.save(nib.Nifti1Image(array.astype(np.float32), affine), str(path))
    return path


def ramp(shape):
    return np.indices(shape).sum(axis=0).astype(np.float32) + 1


def test_folder_with_two_files_for_one_sequence_is_ambiguous(tmp_path):
    write(tmp_path / "a_t1ce.nii.gz", ramp((4, 4, 4)), np.eye(4))
    write(tmp_path / "b_t1c.nii.gz", ramp((4, 4, 4)), np.eye(4))
    with pytest.raises(InputError, match="More than one file per sequence.*t1c"):
        find_sequences(tmp_path)


def test_explicit_paths_override_the_folder(tmp_path):
    write(tmp_path / "x_flair.nii.gz", ramp((6, 6, 6)), np.eye(4))
    other = write(tmp_path / "other.nii.gz", ramp((6, 6, 6)) * 2, np.eye(4))
    case = load_case(tmp_path, {"flair": other})
    assert case.images["flair"].path == other


def test_missing_required_sequence_is_named(tmp_path):
    write(tmp_path / "flair.nii.gz", ramp((6, 6, 6)), np.eye(4))
    case = load_case(tmp_path)
    with pytest.raises(InputError, match="lacks t1c that the segmentation model needs"):
        case.require(["flair", "t1c"], "the segmentation model")


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="No FLAIR, T1, T1c or T2 image found"):
        load_case(tmp_path)


def test_sequences_that_do_not_overlap_are_refused(tmp_path):
    write(tmp_path / "flair.nii.gz", ramp((10, 10, 10)), np.eye(4))
    far = np.eye(4)
    far[:3, 3] = 500
    write(tmp_path / "t1c.nii.gz", ramp((10, 10, 10)), far)
    with pytest.raises(InputError, match="do not overlap in space.*flair.nii.gz.*t1c.nii.gz"):
        load_case(tmp_path)


def test_harmonise_puts_every_sequence_on_the_t1c_grid(tmp_path):
    write(tmp_path / "flair.nii.gz", ramp((12, 10, 8)), np.diag([-2.0, -2.0, 2.0, 1.0]))
    t1c_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    t1c_affine[:3, 3] = [-20, -16, 0]
    write(tmp_path / "t1c.nii.gz", ramp((20, 16, 14)), t1c_affine)
    harmonised, reference = harmonise(load_case(tmp_path))
    assert reference == "t1c"
    for image in harmonised.images.values():
        assert image.shape == (20, 16, 14)
        np.testing.assert_allclose(image.affine, t1c_affine)


def test_reference_can_be_chosen(tmp_path):
    write(tmp_path / "flair.nii.gz", ramp((12, 10, 8)), np.eye(4))
    write(tmp_path / "t1c.nii.gz", ramp((10, 10, 10)), np.eye(4))
    harmonised, reference = harmonise(load_case(tmp_path), "flair")
    assert reference == "flair" and harmonised.images["t1c"].shape == (12, 10, 8)


def test_cli_case_harmonises_the_tcga_study_onto_t1c(data_dir, tmp_path, capsys):
    folder = data_dir / "samples/TCGA-FG-6692"
    assert main(["case", str(folder), "--out", str(tmp_path / "x")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reference"] == "t1c"
    assert sorted(summary["found"]) == ["flair", "t1", "t1c", "t2"]
    t1c = nib.load(str(folder / "t1c.nii.gz"))
    for sequence in ("flair", "t1", "t1c", "t2"):
        written = nib.load(str(tmp_path / "x" / f"{sequence}.nii.gz"))
        assert written.shape == t1c.shape
        np.testing.assert_allclose(written.affine, t1c.affine, atol=1e-4)


def test_cli_case_on_real_brats_sample_keeps_lps_grid(data_dir, tmp_path, capsys):
    folder = data_dir / "samples/BraTS-GLI-00001-000"
    assert main(["case", str(folder), "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid"]["orientation"] == "LPS"
    assert summary["grid"]["shape"] == [240, 240, 155]


def bad_inputs(tmp_path):
    """One case folder per bad input of the foundation issue, each with a good t1c beside the bad flair."""
    good = ramp((10, 10, 10))
    cases = {}
    for name in ("missing", "truncated", "flat", "series", "nan", "zero", "apart"):
        folder = tmp_path / name
        folder.mkdir()
        write(folder / "t1c.nii.gz", good, np.eye(4))
        cases[name] = folder
    flair = {name: cases[name] / "flair.nii.gz" for name in cases}
    data = write(flair["truncated"], good, np.eye(4)).read_bytes()
    flair["truncated"].write_bytes(data[: len(data) // 2])
    write(flair["flat"], np.ones((10, 10)), np.eye(4))
    write(flair["series"], np.ones((10, 10, 10, 2)), np.eye(4))
    nan = good.copy()
    nan[0, 0, 0] = np.nan
    write(flair["nan"], nan, np.eye(4))
    write(flair["zero"], np.zeros((10, 10, 10)), np.eye(4))
    far = np.eye(4)
    far[:3, 3] = 300
    write(flair["apart"], good, far)
    return cases, flair


@pytest.mark.parametrize("name, message", [
    ("missing", "File not found"),
    ("truncated", "truncated or corrupt"),
    ("flat", "2D"),
    ("series", "4D"),
    ("nan", "NaN"),
    ("zero", "all zero"),
    ("apart", "do not overlap in space"),
])
def test_cli_bad_input_gives_one_clear_message_and_writes_nothing(tmp_path, capsys, name, message):
    cases, flair = bad_inputs(tmp_path)
    out = tmp_path / "out"
    code = main(["case", "--t1c", str(cases[name] / "t1c.nii.gz"), "--flair", str(flair[name]), "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.count("\n") == 0 and message in error and "flair.nii.gz" in error
    assert not out.exists()
