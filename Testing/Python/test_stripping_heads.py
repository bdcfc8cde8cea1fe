"""Real research T1w heads (1 mm, 256^3, uint8, defaced, LIA): the stripper in any axis order, and the training
samples made from them. Skips when the shared data is absent."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from BrainTumorAILab.classification.config import REPO_ROOT
from BrainTumorAILab.stripping.painting import Randomisation
from BrainTumorAILab.stripping.real_heads import load_real_heads
from BrainTumorAILab.stripping.synthesis import synthetic_head
from BrainTumorAILib.cli import main
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import load_image, reorient
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.postprocess import dice

HEAD = "heads/AOMIC"
AXIS_ORDERS = ("RAS", "LPS", "SPR")  # flips, and a permutation of the axes


@pytest.fixture(scope="module")
def aomic(data_dir):
    folder = data_dir / HEAD
    if not folder.is_dir():
        pytest.skip(f"{HEAD} not found under {data_dir}")
    image = load_image(next(folder.glob("*_T1w.nii*")))
    reference = load_image(next(folder.glob("*_brainmask.nii*")), label=True)
    return image, reference, strip_skull(image, modality="t1", device="cpu")


def test_a_defaced_uint8_head_is_stripped_inside_the_head(aomic):
    image, reference, native = aomic
    assert nib.load(image.path).get_data_dtype() == np.uint8 and image.orientation == "LIA"
    assert dice(native.mask.array, reference.array) > 0.9
    assert native.mask.same_grid(image)


@pytest.mark.parametrize("axcodes", AXIS_ORDERS)
def test_the_mask_does_not_depend_on_the_axis_order(aomic, axcodes):
    image, reference, native = aomic
    turned = reorient(image, axcodes)
    result = strip_skull(turned, modality="t1", device="cpu")
    back = reorient(result.mask, image.orientation)
    assert back.same_grid(image)
    assert dice(back.array, native.mask.array) > 0.97
    assert result.method == native.method


def test_real_head_samples_are_posed_heads_with_a_brain_of_human_size(data_dir):
    if not (data_dir / HEAD).is_dir():
        pytest.skip(f"{HEAD} not found under {data_dir}")
    heads = load_real_heads(data_dir, [HEAD])
    assert heads[0].labels.max() == 9 and heads[0].mask.any()
    randomisation = Randomisation(grid_shape=(64, 76, 64), spacing_mm=3.0, real_head_prob=1.0)
    first, again = synthetic_head(7, randomisation, (), heads), synthetic_head(7, randomisation, (), heads)
    np.testing.assert_array_equal(first[0], again[0])
    for seed in range(3):
        image, brain = synthetic_head(seed, randomisation, (), heads)
        millilitres = brain.sum() * 27 / 1000
        assert 700 < millilitres < 2000 and 0 <= image.min() and image.max() <= 1.5
        assert image[brain > 0].mean() > image[:3].mean()  # the head is brighter than the air at the border


def test_missing_head_files_are_named(tmp_path):
    (tmp_path / "heads" / "X").mkdir(parents=True)
    with pytest.raises(InputError, match=r"No \*_T1w image in .*heads/X"):
        load_real_heads(tmp_path, ["heads/X"])


def test_an_unknown_held_out_head_is_refused(capsys):
    config = REPO_ROOT / "BrainTumorAI" / "Resources" / "Configs" / "stripping" / "residual-unet3d-real-heads.json"
    assert main(["train", "strip", "--config", str(config), "--hold-out-head", "heads/NONE"]) == 2
    assert "heads/NONE is not among the config's real_heads" in capsys.readouterr().err


def test_deepbet_strips_through_the_same_path_when_installed_and_is_named_when_not(data_dir):
    import importlib.util

    path = data_dir / "samples" / "TCGA-FG-6692"
    if not path.is_dir():
        pytest.skip(f"TCGA-FG-6692 not found under {data_dir}")
    image = load_image(path / "t1c.nii.gz")
    if importlib.util.find_spec("deepbet") is None:
        with pytest.raises(InputError, match="'deepbet' needs the deepbet package"):
            strip_skull(image, method="deepbet")
        return
    reference = load_image(path / "brainmask-hdbet-on-t1c.nii.gz", label=True)
    result = strip_skull(image, modality="t1c", method="deepbet", device="cpu")
    assert result.method == "deepbet" and result.mask.same_grid(image)
    assert dice(result.mask.array, reference.array) > 0.95


@pytest.mark.parametrize("case", ["BraTS2021_00000", "BraTS2021_00031"])
def test_an_already_stripped_brats_brain_is_kept_whole(data_dir, case):
    path = data_dir / "segmentation" / "brats2019-2021" / case / f"{case}_t1ce.nii.gz"
    if not path.is_file():
        pytest.skip(f"{case} not found under {data_dir}")
    image = load_image(path)
    mask = strip_skull(image, modality="t1c", device="cpu").mask.array > 0
    brain = image.array != 0
    assert (brain & mask).sum() >= 0.99 * brain.sum()
