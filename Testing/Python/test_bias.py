"""N4 bias-field correction (bias.py) on a phantom series under a known smooth multiplicative field."""

from __future__ import annotations

import numpy as np
import pytest

from BrainTumorAILib.core.bias import correct_bias, n4_correct
from BrainTumorAILib.core.phantom import WHITE, make_phantom


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=3, shape=(64, 64, 48), spacing=(3.0, 3.0, 3.0))


def spread_in_white_matter(image, tissues) -> float:
    values = image.array[tissues == WHITE]
    return float(values.std() / values.mean())


def test_n4_removes_most_of_a_smooth_field_and_keeps_the_grid(phantom):
    t1 = phantom.images["t1"]
    i, j, k = np.meshgrid(*(np.linspace(-1, 1, n) for n in t1.shape), indexing="ij")
    field = np.exp(0.35 * i + 0.25 * j - 0.2 * k)
    biased = t1.with_array((t1.array * field).astype(np.float32))
    corrected = n4_correct(biased)
    tissues = phantom.tissues.array
    assert corrected.same_grid(biased) and corrected.array.dtype == np.float32
    before, after = spread_in_white_matter(biased, tissues), spread_in_white_matter(corrected, tissues)
    assert after < 0.6 * before
    background = biased.array == biased.array.min()
    np.testing.assert_array_equal(corrected.array[background], biased.array[background])
    assert np.shares_memory(biased.array, biased.array) and not np.shares_memory(corrected.array, biased.array)


def test_none_leaves_the_series_alone_and_an_unknown_method_is_named(phantom):
    images = dict(phantom.images)
    assert correct_bias(images, "none") is images
    with pytest.raises(ValueError, match="Unknown bias correction 'n5'"):
        correct_bias(images, "n5")


def test_a_z_scored_series_is_not_bias_corrected(phantom):
    t1 = phantom.images["t1"]
    scored = t1.with_array(((t1.array - t1.array.mean()) / t1.array.std()).astype(np.float32))
    np.testing.assert_array_equal(n4_correct(scored).array, scored.array)
