"""Near-duplicate grouping and the twin-aware split on generated near-twins."""

from __future__ import annotations

import numpy as np

from BrainTumorAILab.classification.twins import group_split, random_split, twin_pairs, twin_report, union_find_groups


def _smooth(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(rng.random((size, size)), 4).astype(np.float32)


def test_near_duplicates_are_grouped_and_distinct_images_are_not():
    rng = np.random.default_rng(0)
    originals = [_smooth(rng) for _ in range(6)]
    images = list(originals)
    images.append(originals[0] * 0.9 + 0.05 + rng.normal(0, 0.002, originals[0].shape))  # re-encoded copy of 0
    images.append(np.roll(images[-1], 1, axis=1))  # twin of the copy, so of 0 transitively
    images.append(originals[3] + rng.normal(0, 0.001, originals[3].shape))
    stack = np.stack(images).astype(np.float32)
    pairs = twin_pairs(stack)
    groups = union_find_groups(len(stack), pairs)
    assert groups[0] == groups[6] == groups[7]
    assert groups[3] == groups[8]
    assert len(set(groups[[0, 1, 2, 3, 4, 5]])) == 6
    report = twin_report(groups, pairs, np.array([0, 1, 2, 3, 0, 1, 0, 0, 3]))
    assert (report.groups, report.images_with_twin, report.largest_group, report.cross_class_groups) == (6, 5, 3, 0)


def test_twin_aware_split_never_puts_twins_on_both_sides():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(60), rng.integers(1, 5, 60))
    labels = groups % 4
    train, validation = group_split(groups, labels, 0.25, seed=3)
    assert not set(groups[train]) & set(groups[validation])
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(len(groups)))
    assert 0.15 < len(validation) / len(groups) < 0.35
    naive_train, naive_validation = random_split(len(groups), labels, 0.25, seed=3)
    assert set(groups[naive_train]) & set(groups[naive_validation])  # the leak the twin-aware split avoids
