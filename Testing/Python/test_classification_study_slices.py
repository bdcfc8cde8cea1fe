"""Training images cut from 3D studies (study_slices) and the trainer's extra_data, on phantoms."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image as PILImage

from BrainTumorAILab.classification.study_slices import MIN_TUMOUR_AREA_MM2, main
from BrainTumorAILab.classification.train import train
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import load_image
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.core.registry import Registry
from classification_models import tiny_config, write_dataset
from seg_training_data import write_phantoms


def _head_folder(folder: Path) -> Path:
    phantom = make_phantom(3, shape=(64, 64, 56), spacing=(3.0, 3.0, 3.0), tumour=False)
    folder.mkdir(parents=True)
    nib.save(nib.Nifti1Image(phantom.images["t1"].array, phantom.images["t1"].affine), folder / "P_T1w.nii.gz")
    nib.save(nib.Nifti1Image(phantom.brain_mask.array, phantom.brain_mask.affine), folder / "P_brainmask.nii.gz")
    return folder


def test_tumour_cases_give_glioma_slices_through_the_tumour_and_clear_slices_as_notumor(tmp_path, capsys):
    cases = tmp_path / "cases"
    names = write_phantoms(cases, [1, 2], scheme="brats2020")
    out = tmp_path / "slices"
    assert main(["--out", str(out), "--tumour-cases", str(cases), "--size", "64"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["tumour_cases"]) == set(names)
    glioma = sorted((out / "glioma").glob("*.png"))
    assert len(glioma) == sum(counts["glioma"] for counts in manifest["tumour_cases"].values()) > 0
    assert all(path.name.split("__")[0].endswith("_t1c") for path in glioma)  # t1c first, as a study is classified
    image = np.asarray(PILImage.open(glioma[0]))
    assert image.shape == (64, 64) and image.dtype == np.uint8 and image.max() == 255
    assert json.loads(capsys.readouterr().out)["tumour_cases"] == manifest["tumour_cases"]


def test_glioma_slices_each_cut_through_enough_tumour(tmp_path):
    from BrainTumorAILab.classification.study_slices import tumour_positions

    tumour = np.zeros((40, 40, 40), bool)
    tumour[10:20, 12:18, 5:30] = True  # 10 x 6 x 25 voxels of 2 mm
    positions = tumour_positions(tumour, (2.0, 2.0, 2.0))
    for view, axis in (("sagittal", 0), ("coronal", 1), ("axial", 2)):
        indices = [index for _, index in positions[view]]
        assert len(indices) == len(set(indices)) > 0
        for index in indices:
            assert np.take(tumour, index, axis=axis).sum() * 4.0 >= MIN_TUMOUR_AREA_MM2


def test_heads_give_whole_and_brain_only_notumor_slices(tmp_path):
    head = _head_folder(tmp_path / "HEAD")
    out = tmp_path / "slices"
    assert main(["--out", str(out), "--heads", str(head), "--size", "64"]) == 0
    files = sorted((out / "notumor").glob("*.png"))
    whole = [f for f in files if "_whole__" in f.name]
    brain = [f for f in files if "_brain__" in f.name]
    assert len(whole) == len(brain) > 0 and len(files) == len(whole) + len(brain)
    assert not (out / "glioma").exists()
    assert load_image(head / "P_T1w.nii.gz").array.max() > 0  # inputs untouched


def test_a_head_without_a_brain_mask_is_refused_by_name(tmp_path):
    head = _head_folder(tmp_path / "HEAD")
    (head / "P_brainmask.nii.gz").unlink()
    with pytest.raises(InputError, match="brainmask.*HEAD"):
        main(["--out", str(tmp_path / "slices"), "--heads", str(head)])


def test_extra_data_joins_the_training_side_only(tmp_path):
    data = write_dataset(tmp_path / "data", per_class=8, seed=1)
    extra = write_dataset(tmp_path / "extra", per_class=3, seed=2)
    plain = train(tiny_config(data, epochs=1), tmp_path / "plain", threads=1, progress=False)
    config = tiny_config(data, epochs=1, extra_data=[{"path": str(extra), "repeat": 2}])
    metrics = train(config, tmp_path / "with-extra", threads=1, progress=False)
    assert metrics["extra_training_images"] == {str(extra): 12}
    assert metrics["validation_images"] == plain["validation_images"]
    assert metrics["train_images"] == plain["train_images"]
    assert metrics["validation_files"] == plain["validation_files"]
    card = Registry.load(tmp_path / "with-extra" / "models.json").default("classification")
    assert card.models_dir == (tmp_path / "with-extra").resolve() and card.weights["file"] == "model.safetensors"


def test_extra_data_entries_are_checked(tmp_path):
    data = write_dataset(tmp_path / "data", per_class=2, seed=1)
    with pytest.raises(InputError, match="extra_data"):
        train(tiny_config(data, extra_data=[{"path": str(data), "repeat": 0}]), tmp_path / "run", threads=1,
              progress=False)
