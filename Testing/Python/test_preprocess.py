"""Preprocessing: foreground on any background constant, normalisation, crop and pad with exact inverses."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.core.preprocess import (background_value, bounding_box, fill_holes, foreground_mask, head_mask,
                                             largest_component, minmax, pad_to_multiple, solid_component, zscore)


def ball(shape=(40, 44, 36), radius=12, background=0.0, rng=None):
    grid = np.indices(shape) - (np.array(shape)[:, None, None, None] // 2)
    inside = (grid ** 2).sum(axis=0) <= radius ** 2
    volume = np.full(shape, background, np.float32)
    rng = rng or np.random.default_rng(0)
    volume[inside] = rng.normal(100, 15, inside.sum())
    return volume, inside


@pytest.mark.parametrize("background", [0.0, -3.16, 17.5])
def test_foreground_is_right_whatever_the_background_constant(background):
    volume, inside = ball(background=background)
    assert background_value(volume) == pytest.approx(background)
    np.testing.assert_array_equal(foreground_mask(volume), inside)


@pytest.mark.parametrize("ndim", [2, 3])
def test_fill_holes_matches_scipy_binary_fill_holes(ndim):
    from scipy import ndimage

    rng = np.random.default_rng(ndim)
    for _ in range(150):
        shape = tuple(int(n) for n in rng.integers(1, 13, size=ndim))
        mask = rng.random(shape) < rng.random()
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask), err_msg=str(mask.shape))
    shell, inside = ball(radius=12)[1], ball(radius=8)[1]
    assert fill_holes(shell & ~inside)[inside].all()


def test_deepmedic_case_background_is_found(data_dir):
    from BrainTumorAILib.core.image import load_image

    flair = load_image(data_dir / "segmentation/brats2013-deepmedic/brats_2013_pat0003_1/Flair_subtrMeanDivStd.nii.gz")
    assert background_value(flair.array) == pytest.approx(-3.16, abs=0.05)
    brain = load_image(data_dir / "segmentation/brats2013-deepmedic/brats_2013_pat0003_1/brainmask.nii.gz", label=True)
    overlap = (foreground_mask(flair.array) & (brain.array > 0)).sum() / (brain.array > 0).sum()
    assert overlap > 0.97


@pytest.mark.parametrize("background", [0.0, -3.16])
def test_zscore_has_zero_mean_unit_std_over_the_foreground(background):
    volume, inside = ball(background=background)
    normalised = zscore(volume)
    assert normalised[inside].mean() == pytest.approx(0, abs=1e-4)
    assert normalised[inside].std() == pytest.approx(1, abs=1e-3)
    assert np.all(normalised[~inside] == 0)


def test_minmax_maps_the_foreground_into_unit_range():
    volume, inside = ball(background=-3.16)
    scaled = minmax(volume)
    assert scaled.min() == 0 and scaled.max() == 1
    assert np.all(scaled[~inside] == 0)


def test_crop_then_invert_restores_the_volume():
    volume, inside = ball()
    crop = bounding_box(inside, margin=2)
    cropped = crop.apply(volume)
    assert cropped.shape == (29, 29, 29)
    np.testing.assert_array_equal(crop.invert(cropped), np.where(np.pad(inside, 0), volume, 0))


def test_crop_applies_to_channel_stacks_and_clips_margins():
    mask = np.zeros((10, 10, 10), bool)
    mask[0:3, 5:7, 9] = True
    crop = bounding_box(mask, margin=4)
    assert crop.start == (0, 1, 5) and crop.stop == (7, 10, 10)
    stack = np.ones((2, 10, 10, 10))
    assert crop.apply(stack).shape == (2, 7, 9, 5)


def test_empty_mask_crops_nothing():
    crop = bounding_box(np.zeros((5, 6, 7), bool))
    assert crop.start == (0, 0, 0) and crop.stop == (5, 6, 7)


def test_pad_to_multiple_then_invert_is_exact():
    array = np.random.default_rng(1).random((2, 29, 30, 17))
    padded, pad = pad_to_multiple(array, 16)
    assert padded.shape == (2, 32, 32, 32)
    np.testing.assert_array_equal(pad.invert(padded), array)


def test_head_mask_drops_air_noise_and_fills_holes():
    volume, inside = ball(radius=14)
    rng = np.random.default_rng(3)
    volume += np.abs(rng.normal(0, 2, volume.shape)).astype(np.float32)  # noisy air
    volume[20, 22, 18] = 0  # a dark hole inside the head
    mask = head_mask(volume)
    assert mask[20, 22, 18]
    assert abs(int(mask.sum()) - int(inside.sum())) < 0.02 * inside.sum()


def test_solid_component_in_its_boxes_is_the_whole_volume_answer():
    from scipy import ndimage

    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = ndimage.gaussian_filter(rng.random((30, 34, 28)), 2) > 0.52
        np.testing.assert_array_equal(solid_component(mask), fill_holes(largest_component(mask)))
