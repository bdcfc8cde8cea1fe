"""Skull stripping on phantoms: masks on the input grid for any orientation and voxel size, classical baseline
quality, and clear errors for bad inputs."""

import numpy as np
import pytest

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, reorient
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.postprocess import dice, solid_component


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(21)


@pytest.mark.parametrize("sequence", ["t1", "t2", "flair"])
def test_classical_finds_the_phantom_brain(phantom, sequence):
    result = strip_skull(phantom.images[sequence], modality=sequence, method="classical")
    assert result.method == "classical" and result.card is None
    assert dice(result.mask.array, phantom.brain_mask.array) > 0.8


def test_brain_output_keeps_input_voxels_inside_the_mask_only(phantom):
    image = phantom.images["t1c"]
    result = strip_skull(image, method="classical")
    inside = result.mask.array > 0
    np.testing.assert_array_equal(result.brain.array[inside], image.array[inside])
    assert np.all(result.brain.array[~inside] == 0)
    assert result.mask.array.dtype == np.uint8 and set(np.unique(result.mask.array)) == {0, 1}


@pytest.mark.parametrize("axcodes", ["LPS", "LAS", "PIR"])
def test_mask_follows_the_input_orientation(phantom, axcodes):
    """The same head stored in another voxel order gives the same mask, in that voxel order."""
    image = phantom.images["t1"]
    reference = strip_skull(image, method="classical").mask
    turned = reorient(image, axcodes)
    result = strip_skull(turned, method="classical")
    assert result.mask.same_grid(turned) and result.mask.orientation == axcodes
    np.testing.assert_array_equal(reorient(result.mask, "RAS").array, reference.array)


def test_anisotropic_oblique_input_gives_a_mask_on_its_grid():
    phantom = make_phantom(22, shape=(120, 128, 36), spacing=(1.6, 1.6, 5.0), oblique=True)
    result = strip_skull(phantom.images["t2"], method="classical")
    assert result.mask.same_grid(phantom.images["t2"])
    assert dice(result.mask.array, phantom.brain_mask.array) > 0.75


def test_solid_component_keeps_the_largest_component_and_fills_its_holes():
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[2:12, 2:12, 2:12] = True
    mask[5:8, 5:8, 5:8] = False  # a ventricle
    mask[15:18, 15:18, 15:18] = True  # a piece of scalp
    solid = solid_component(mask)
    assert solid[6, 6, 6] and not solid[16, 16, 16] and solid.sum() == 1000


@pytest.mark.parametrize("method, modality, message", [
    ("magic", None, "Unknown skull-stripping method"),
    ("classical", "dwi", "Unknown modality"),
])
def test_bad_options_are_named(phantom, method, modality, message):
    with pytest.raises(InputError, match=message):
        strip_skull(phantom.images["t1"], modality=modality, method=method)


def test_constant_or_flat_images_are_refused(phantom):
    affine = phantom.images["t1"].affine
    with pytest.raises(InputError, match="constant"):
        strip_skull(Image(np.ones((40, 40, 30), np.float32), affine), method="classical")
    with pytest.raises(InputError, match="3D"):
        strip_skull(Image(np.ones((40, 40, 1), np.float32), affine), method="classical")
    with pytest.raises(InputError, match="NaN"):
        strip_skull(Image(np.full((40, 40, 30), np.nan, np.float32), affine), method="classical")


def test_dilation_by_a_ball_through_the_distance_map_is_scipys_binary_dilation():
    from scipy import ndimage

    from BrainTumorAILib.tasks.stripping.classical import ball, dilate_by_ball

    rng = np.random.default_rng(5)
    mask = ndimage.gaussian_filter(rng.random((40, 36, 30)), 2) > 0.54
    for radius_mm in (4.0, 6.0, 10.0):
        np.testing.assert_array_equal(dilate_by_ball(mask, radius_mm), ndimage.binary_dilation(mask, ball(radius_mm)))
    assert not dilate_by_ball(np.zeros((5, 5, 5), bool), 10.0).any()



@pytest.mark.parametrize("kind", ["head", "head cut by the volume's face", "stripped brain"])
def test_the_classical_morphology_in_the_head_s_box_gives_the_whole_grid_s_mask(phantom, kind, monkeypatch):
    from BrainTumorAILib.tasks.stripping import classical

    image = phantom.images["t1"]
    if kind == "head cut by the volume's face":
        kept = (np.arange(image.shape[0]) >= 14)[:, None, None]
        image = image.with_array(np.roll(image.array, 14, axis=0) * kept)
    elif kind == "stripped brain":  # the brain fills the head's box: the closing needs the box's margin
        image = image.with_array(np.where(phantom.brain_mask.array > 0, image.array, 0).astype(np.float32))
    boxed = classical.classical_brain(image)
    monkeypatch.setattr(classical, "HEAD_BOX_MARGIN_VOXELS", 10_000)  # the box is the whole grid
    whole = classical.classical_brain(image)
    assert boxed.array.any() and np.array_equal(boxed.array, whole.array)


def test_the_bias_flattening_takes_a_smooth_bias_off_the_head():
    from BrainTumorAILib.tasks.stripping.classical import flatten_bias

    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in (90, 100, 80)], indexing="ij")
    inside = (x - 45) ** 2 / 40**2 + (y - 50) ** 2 / 45**2 + (z - 40) ** 2 / 35**2 <= 1
    bias = 0.6 + 0.8 * x / 89  # 0.6 to 1.4 across the head, 180 mm on the 2 mm grid
    flat = flatten_bias(np.where(inside, 100.0 * bias, 0.0).astype(np.float32), inside)
    core = inside & ((x - 45) ** 2 / 30**2 + (y - 50) ** 2 / 35**2 + (z - 40) ** 2 / 25**2 <= 1)
    assert flat.dtype == np.float32 and not flat[~inside].any()

    def spread(values: np.ndarray) -> float:
        return float(np.ptp(values) / values.mean())

    # the ramp spreads the core's values by 54%; flattened on the whole grid they spread by 15%, and by 20% or more
    # with the smooth means interpolated back 3 voxels off or at a wrong scale
    assert spread(100.0 * bias[core]) > 0.5 and spread(flat[core]) < 0.17
