"""Per-image standardisation of 2D slices, so that a slice's brightness profile says nothing about its class.

The training images' brightness follows their source, and their source follows their class (the tumour images are
darker than the tumour-free ones; in unseen data every class is bright), so a network fed raw grey values learns
brightness. Two steps remove that cue, for the 2D files and for slices rendered from 3D studies alike:

- ``frame_head``: crop to the head (the largest bright component, holes filled) with a margin and pad to a square;
  resized, every image then shows the head at one scale, whatever the source's field of view.
- ``equalise``: histogram equalisation inside the head (scikit-image), so an image's grey values become the ranks
  of its head's pixels: any monotone change of brightness, contrast or gamma leaves it (nearly) unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import exposure

HEAD_LEVEL = 0.1  # a head pixel is brighter than this fraction of the image's 99th percentile
FRAME_MARGIN = 0.04  # of the head's larger side, on each side
STANDARDISATIONS = ("minmax", "head_equalised")


def head_mask_2d(image: np.ndarray) -> np.ndarray:
    """(H, W) image in [0, 1] -> boolean (H, W): the largest component above HEAD_LEVEL x p99, holes filled."""
    level = HEAD_LEVEL * float(np.percentile(image, 99))
    bright = image > max(level, 1e-6)
    components, count = ndimage.label(bright)
    if count == 0:
        return bright
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(components == int(sizes.argmax()))


def frame_head(image: np.ndarray) -> np.ndarray:
    """(H, W) image in [0, 1] -> (L, L) float32: the head's bounding box plus a margin, centred on a black square
    (L = the box's larger side plus the margins; the image itself when no head is found)."""
    mask = head_mask_2d(image)
    if mask.sum() < 16:
        return image.astype(np.float32)
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    side = max(bottom - top, right - left)
    side += 2 * int(round(FRAME_MARGIN * side))
    square = np.zeros((side, side), dtype=np.float32)
    height, width = bottom - top, right - left
    row0, column0 = (side - height) // 2, (side - width) // 2
    square[row0:row0 + height, column0:column0 + width] = image[top:bottom, left:right] * mask[top:bottom, left:right]
    return square


def equalise(images: np.ndarray) -> np.ndarray:
    """(N, S, S) images in [0, 1] -> (N, S, S) float32: histogram-equalised inside each head mask, zero outside."""
    out = np.zeros(images.shape, dtype=np.float32)
    for index, image in enumerate(images):
        mask = head_mask_2d(image)
        if mask.sum() >= 16 and np.ptp(image[mask]) > 0:
            out[index] = np.where(mask, exposure.equalize_hist(image, nbins=256, mask=mask), 0.0)
    return out


def standardise(images: np.ndarray, method: str) -> np.ndarray:
    """(N, S, S) images in [0, 1] standardised by a model card's ``preprocessing.standardise`` method."""
    if method == "head_equalised":
        return equalise(images)
    if method == "minmax":
        return np.asarray(images, dtype=np.float32)
    raise ValueError(f"Unknown standardisation '{method}' (choose {', '.join(STANDARDISATIONS)})")
