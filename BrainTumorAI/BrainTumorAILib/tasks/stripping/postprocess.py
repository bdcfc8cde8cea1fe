"""Turning a rough brain mask into one solid brain: largest connected component, holes filled."""

from __future__ import annotations

import numpy as np

from ...core.preprocess import bounding_box, dice, fill_holes, largest_component  # noqa: F401  (re-exported)


def solid_brain(mask: np.ndarray) -> np.ndarray:
    """The largest component of ``mask`` (I, J, K) with its enclosed holes (ventricles, dark tumour) filled. bool.

    Worked out inside the mask's bounding box grown by one voxel: the background shell around the mask keeps every
    hole that reaches it open, as in the whole volume, at a fraction of the cost on a 1 mm head."""
    box = bounding_box(mask, 1)
    return box.invert(fill_holes(largest_component(box.apply(mask))), fill=False)
