"""Lesion copy-paste between training cases (after CarveMix, Zhang et al. 2021): a labelled lesion with a margin of
its own tissue, carved from one case and laid into another case's brain, every channel and the labels at once.

It works on whole cases on the network grid (image (C, I, J, K) normalised, 0 outside the brain and in a missing
channel; label (I, J, K) classes 0..3), before patches are drawn, so the patches around a pasted lesion show it in
another brain and another place: lesion appearances that 14 cases hold, in contexts they do not.

- A donor must have every channel the recipient has: a two-sequence case cannot give a four-sequence case a lesion
  (its missing channels would paste holes). Channels the recipient lacks stay 0.
- The carve is the donor's brain within ``margin`` voxels of its lesion (``margin`` drawn per paste from
  ``margin_voxels``); over ``feather_voxels`` beyond it the donor blends linearly into the recipient, so no cut
  edge marks where a lesion was pasted. Labels follow the donor where its weight is at least one half.
- The donor block is flipped at random along each axis. Its place is the best of ``PLACEMENT_TRIES`` random brain
  voxels of the recipient (the lesion's centroid put there), scored by how many lesion voxels land in the
  recipient's brain off its own tumour; nothing is pasted outside the recipient's brain.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

PLACEMENT_TRIES = 8


@dataclasses.dataclass(frozen=True)
class Carve:
    """A donor lesion in its box (the lesion's bounding box grown by the largest margin and the feather):
    image (C, a, b, c), label (a, b, c), distance (a, b, c) in voxels to the lesion (0 inside), brain (a, b, c)."""

    image: np.ndarray
    label: np.ndarray
    distance: np.ndarray
    brain: np.ndarray


def present_channels(image: np.ndarray) -> frozenset[int]:
    """Indices of the channels of a (C, I, J, K) image that are not all 0."""
    return frozenset(int(c) for c in range(image.shape[0]) if image[c].any())


def brain_of(image: np.ndarray) -> np.ndarray:
    """(I, J, K) bool: where any channel of a (C, I, J, K) normalised image is non-zero."""
    return (image != 0).any(0)


def carve(image: np.ndarray, label: np.ndarray, reach: int) -> Carve | None:
    """The lesion of a case with ``reach`` voxels around it, or None when the case has no lesion."""
    lesion = label > 0
    if not lesion.any():
        return None
    where = np.argwhere(lesion)
    low = np.maximum(where.min(0) - reach, 0)
    high = np.minimum(where.max(0) + reach + 1, label.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    piece = image[(slice(None), *box)].copy()
    distance = ndimage.distance_transform_edt(~lesion[box]).astype(np.float32)
    return Carve(piece, label[box].copy(), distance, brain_of(piece))


class LesionPaste:
    """Pastes a donor's lesion into case ``index`` of ``images`` / ``labels`` with probability ``prob``
    (``augmentation.lesion_paste``)."""

    def __init__(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray], settings: Mapping[str, Any]):
        self.prob = float(settings["prob"])
        self.margins = tuple(float(m) for m in settings["margin_voxels"])
        self.feather = float(settings["feather_voxels"])
        reach = int(np.ceil(self.margins[1] + self.feather))
        self.images, self.labels = list(images), list(labels)
        self.carves = [carve(image, label, reach) for image, label in zip(images, labels)]
        self.channels = [present_channels(image) for image in images]
        self.brains = [brain_of(image) for image in images]
        self.free = [brain & (label == 0) for brain, label in zip(self.brains, labels)]  # where a lesion may go

    def donors(self, index: int) -> list[int]:
        """The cases that may give case ``index`` a lesion."""
        return [d for d, piece in enumerate(self.carves)
                if d != index and piece is not None and self.channels[index] <= self.channels[d]]

    def __call__(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(image (C, I, J, K), label (I, J, K)) of case ``index``, with a lesion pasted, or the case's own arrays
        (never modified in place)."""
        image, label = self.images[index], self.labels[index]
        donors = self.donors(index)
        if not donors or rng.random() >= self.prob:
            return image, label
        piece = self.carves[int(rng.choice(donors))]
        flips = [axis for axis in range(3) if rng.random() < 0.5]
        piece_image = np.flip(piece.image, [axis + 1 for axis in flips])
        piece_label, distance, piece_brain = (np.flip(a, flips) for a in (piece.label, piece.distance, piece.brain))
        margin = rng.uniform(*self.margins)
        weight = np.clip((margin + self.feather - distance) / self.feather, 0.0, 1.0) * piece_brain
        offset = self._place(piece_label > 0, index, rng)
        if offset is None:
            return image, label
        target, source = _overlap(offset, piece_label.shape, label.shape)
        weight = weight[source] * self.brains[index][target]
        image, label = image.copy(), label.copy()
        for channel in self.channels[index]:
            region = image[channel][target]
            image[channel][target] = region + weight * (piece_image[channel][source] - region)
        labelled = weight >= 0.5
        label[target][labelled] = piece_label[source][labelled]
        return image, label

    def _place(self, lesion: np.ndarray, index: int, rng: np.random.Generator) -> np.ndarray | None:
        """The offset (3,) of the donor box in case ``index`` that lands the most lesion voxels on its brain off its
        tumour, among ``PLACEMENT_TRIES`` random centres there; None when none lands any."""
        free = self.free[index]
        candidates = np.flatnonzero(free)
        if candidates.size == 0:
            return None
        centroid = np.round(np.argwhere(lesion).mean(0)).astype(int)
        best, best_count = None, 0
        for flat in rng.choice(candidates, size=PLACEMENT_TRIES):
            offset = np.array(np.unravel_index(flat, free.shape)) - centroid
            target, source = _overlap(offset, lesion.shape, free.shape)
            count = int(np.count_nonzero(lesion[source] & free[target]))
            if count > best_count:
                best, best_count = offset, count
        return best


def _overlap(offset: np.ndarray, box_shape: Sequence[int], grid_shape: Sequence[int]
             ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the grid and of a box placed at ``offset`` (the box's first voxel in grid voxels) that overlap."""
    low = np.maximum(offset, 0)
    high = np.minimum(offset + np.asarray(box_shape), grid_shape)
    high = np.maximum(high, low)
    target = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    source = tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(low, high, offset))
    return target, source
