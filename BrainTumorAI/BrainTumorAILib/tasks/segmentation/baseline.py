"""The plain threshold baseline a learned segmenter must beat (issue 3's acceptance yardstick).

Whole tumour WT = the largest connected component of z-scored FLAIR > 1.5 inside the head; enhancing ET = WT where
z-scored T1c > 1.0; core TC = ET closed and hole-filled. Both images on one grid (I, J, K); each is z-scored over its
own foreground, as the network input is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...core import preprocess
from ...core.errors import InputError
from ...core.image import Image

FLAIR_Z, T1C_Z = 1.5, 1.0
CLOSING_ITERATIONS = 2


def threshold_baseline(flair: Image, t1c: Image) -> np.ndarray:
    """Class map (I, J, K) uint8 on the images' grid: 1 NCR (TC without ET), 2 ED (WT without TC), 3 ET."""
    if not flair.same_grid(t1c):
        raise InputError(f"{t1c.name} is not on the grid of {flair.name}; harmonise the case first")
    head = preprocess.head_mask(flair.array)
    candidates = (preprocess.zscore(flair.array) > FLAIR_Z) & head
    classes = np.zeros(flair.shape, dtype=np.uint8)
    whole = preprocess.largest_component(candidates)
    if not whole.any():
        return classes
    enhancing = whole & (preprocess.zscore(t1c.array) > T1C_Z)
    core = preprocess.fill_holes(ndimage.binary_closing(enhancing, iterations=CLOSING_ITERATIONS))
    classes[whole | core] = 2
    classes[core] = 1
    classes[enhancing] = 3
    return classes
