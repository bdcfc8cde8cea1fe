"""Sense checks on a case's inputs (checks.py) through load_case and the CLI: exit 2, a message, no output."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import load_case
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, save_image
from BrainTumorAILib.core.phantom import make_phantom


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=5, shape=(40, 40, 32), spacing=(3.0, 3.0, 3.0))  # a tumour that enhances: t1c != t1


@pytest.fixture
def files(phantom, tmp_path):
    return {sequence: save_image(image, tmp_path / f"{sequence}.nii.gz") for sequence, image in phantom.images.items()}


def test_a_plausible_case_passes(files):
    assert set(load_case(paths=files).images) == {"flair", "t1", "t1c", "t2"}


def test_a_label_map_given_as_flair_is_refused(phantom, files, tmp_path):
    labels = save_image(phantom.labels, tmp_path / "labels.nii.gz")
    with pytest.raises(InputError, match=r"flair looks like a label map .*values 0, 1, 2, 3\).*labels\.nii\.gz"):
        load_case(paths={**files, "flair": labels})


def test_the_same_file_under_two_names_is_refused(files):
    with pytest.raises(InputError, match=r"flair and t1c are the same file"):
        load_case(paths={"flair": files["flair"], "t1c": files["flair"]})


def test_identical_voxels_under_two_names_are_refused(phantom, files, tmp_path):
    copy = save_image(phantom.images["t2"], tmp_path / "copy-of-t2.nii.gz")
    with pytest.raises(InputError, match=r"t1 and t2 are identical voxels"):
        load_case(paths={"t1": files["t1"], "t2": files["t2"], "flair": files["flair"]} | {"t1": copy})


@pytest.mark.parametrize("spacing", [(0.1, 1.0, 1.0), (1.0, 1.0, 12.0)])
def test_implausible_spacing_is_refused(phantom, tmp_path, spacing):
    flair = phantom.images["flair"]
    odd = save_image(Image(flair.array, np.diag([*spacing, 1.0])), tmp_path / "flair.nii.gz")
    with pytest.raises(InputError, match=r"flair has voxels of .* mm, outside the 0.2-10 mm"):
        load_case(paths={"flair": odd})


def test_more_than_one_frame_is_refused(phantom, tmp_path):
    import nibabel as nib

    flair = phantom.images["flair"]
    path = tmp_path / "flair.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([flair.array] * 3, axis=-1), flair.affine), path)
    with pytest.raises(InputError, match=r"4D .* a 3D volume is expected"):
        load_case(paths={"flair": path})


def test_the_cli_exits_2_with_the_message_and_writes_nothing(phantom, files, tmp_path, capsys):
    labels = save_image(phantom.labels, tmp_path / "labels.nii.gz")
    out = tmp_path / "out"
    code = main(["run", "--flair", str(labels), "--t1c", str(files["t1c"]), "-o", str(out), "--device", "cpu"])
    assert code == 2
    assert "looks like a label map" in capsys.readouterr().err
    assert not out.exists()
