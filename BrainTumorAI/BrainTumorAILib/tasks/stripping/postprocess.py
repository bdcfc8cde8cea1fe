"""Turning a rough brain mask into one solid brain: largest connected component, holes filled."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...core.preprocess import dice, fill_holes  # noqa: F401  (dice: for the stripping code and its tests)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 6-connected component of ``mask`` (I, J, K) bool; an empty mask stays empty."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return labels > 0
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    return labels == 1 + int(np.argmax(sizes))


def solid_brain(mask: np.ndarray) -> np.ndarray:
    """The largest component of ``mask`` (I, J, K) with its enclosed holes (ventricles, dark tumour) filled. bool."""
    return fill_holes(largest_component(mask))

