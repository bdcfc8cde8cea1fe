"""Near-duplicate ("twin") grouping of 2D images and splits that keep every twin group on one side.

Two images are twins when their 64x64 grayscale versions correlate at ``threshold`` (0.95) or more; twins are
joined transitively with union-find, so one group holds e.g. all adjacent slices of one patient that look alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image as PILImage

TWIN_SIZE = 64
TWIN_THRESHOLD = 0.95


def signatures(images: np.ndarray) -> np.ndarray:
    """(N, H, W) images -> (N, 64*64) rows with zero mean and unit norm (so a dot product is a correlation)."""
    small = np.stack([
        np.asarray(PILImage.fromarray(image.astype(np.float32), mode="F").resize((TWIN_SIZE, TWIN_SIZE),
                                                                                  PILImage.Resampling.BILINEAR))
        for image in images
    ]).reshape(len(images), -1).astype(np.float64)
    small -= small.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(small, axis=1, keepdims=True)
    return (small / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def twin_pairs(images: np.ndarray, threshold: float = TWIN_THRESHOLD, block: int = 1024) -> list[tuple[int, int]]:
    """Index pairs (i < j) of images whose 64x64 correlation is >= ``threshold``; computed in blocks of rows."""
    rows = signatures(images)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(rows), block):
        correlation = rows[start:start + block] @ rows.T
        first, second = np.nonzero(correlation >= threshold)
        first = first + start
        keep = first < second
        pairs.extend(zip(first[keep].tolist(), second[keep].tolist()))
    return pairs


def union_find_groups(count: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Group id (0..G-1, in order of first appearance) of each of ``count`` items joined by ``pairs``."""
    parent = list(range(count))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for first, second in pairs:
        a, b = root(first), root(second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = [root(item) for item in range(count)]
    renumber: dict[int, int] = {}
    return np.array([renumber.setdefault(r, len(renumber)) for r in roots], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class TwinReport:
    """How much near-duplication a dataset holds."""

    images: int
    pairs: int
    groups: int
    images_with_twin: int
    largest_group: int
    cross_class_groups: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def twin_report(groups: np.ndarray, pairs: list[tuple[int, int]], labels: np.ndarray) -> TwinReport:
    """Counts for a grouping: images that have at least one twin, groups, largest group, groups mixing classes."""
    sizes = np.bincount(groups)
    mixed = sum(len(np.unique(labels[groups == group])) > 1 for group in np.nonzero(sizes > 1)[0])
    return TwinReport(images=len(groups), pairs=len(pairs), groups=len(sizes),
                      images_with_twin=int(sizes[groups].__gt__(1).sum()), largest_group=int(sizes.max()),
                      cross_class_groups=int(mixed))


def group_split(groups: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) with whole twin groups on one side and ~``fraction`` of each class in validation.

    Groups are visited in a seeded random order and go to validation while their majority class is below its quota.
    """
    rng = np.random.default_rng(seed)
    quota = {label: fraction * np.sum(labels == label) for label in np.unique(labels)}
    taken = dict.fromkeys(quota, 0)
    validation = np.zeros(len(groups), dtype=bool)
    for group in rng.permutation(np.unique(groups)):
        members = np.nonzero(groups == group)[0]
        majority = int(np.bincount(labels[members]).argmax())
        if taken[majority] + len(members) <= quota[majority] + 0.5 * len(members):
            validation[members] = True
            taken[majority] += len(members)
    return np.nonzero(~validation)[0], np.nonzero(validation)[0]


def random_split(count: int, labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The naive split (stratified, ignoring twins) that seeds used; kept only to show how much it inflates accuracy."""
    return group_split(np.arange(count), labels, fraction, seed)


def brightness_holdout(groups: np.ndarray, labels: np.ndarray, brightness: np.ndarray, fraction: float,
                       healthy_label: int) -> np.ndarray:
    """Indices of a held-out set that inverts the training set's brightness-class relation, whole twin groups.

    In each tumour class the brightest groups (by their members' mean ``brightness``) and in the healthy class the
    darkest ones, until ~``fraction`` of the class is taken. What stays for training then has tumour images darker
    and healthy images brighter than the held-out ones, so a network that reads class from brightness fails here.
    """
    held = np.zeros(len(groups), dtype=bool)
    for label in np.unique(labels):
        ids = [group for group in np.unique(groups[labels == label])
               if int(np.bincount(labels[groups == group]).argmax()) == label]
        mean = np.array([brightness[groups == group].mean() for group in ids])
        order = np.argsort(mean if label == healthy_label else -mean, kind="stable")
        quota, taken = fraction * np.sum(labels == label), 0
        for position in order:
            if taken >= quota:
                break
            members = groups == ids[position]
            held |= members
            taken += int(members.sum())
    return np.nonzero(held)[0]
