"""Small BraTS 2023-convention label maps (0 background, 1 NCR, 2 ED, 3 ET) for the official-figures tests.

Plain numpy, so that the same arrays can be fed to the challenge's own ``BraTS_evaluation`` package outside this
repository to record what it prints.
"""

from __future__ import annotations

import numpy as np

SHAPE = (40, 36, 32)


def ball(center: tuple[float, float, float], radius: float, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Voxels within ``radius`` (in voxels) of ``center``, bool ``shape``."""
    grid = np.indices(shape, dtype=float)
    return sum((axis - c) ** 2 for axis, c in zip(grid, center)) <= radius ** 2


def lesions_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth), uint8 (40, 36, 32): two lesions found imperfectly, one missed, a two-voxel lesion found,
    a false-positive lesion, and a lesion cut by the volume's border."""
    truth = np.zeros(SHAPE, np.uint8)
    prediction = np.zeros(SHAPE, np.uint8)
    # A: oedema ball with an enhancing shell and a necrotic centre, predicted shifted and a little larger
    truth[ball((12, 12, 12), 7)] = 2
    truth[ball((12, 12, 12), 4.5)] = 3
    truth[ball((12, 12, 12), 3)] = 1
    prediction[ball((13, 11, 12), 7.5)] = 2
    prediction[ball((13, 12, 13), 4.5)] = 3
    prediction[ball((13, 12, 13), 2.5)] = 1
    # B: a box of oedema around an enhancing core, predicted a little small
    truth[27:35, 22:31, 19:27] = 2
    truth[29:33, 25:29, 21:25] = 3
    prediction[28:34, 23:30, 20:26] = 2
    prediction[29:32, 25:28, 21:25] = 3
    # C: missed
    truth[ball((31, 8, 8), 3)] = 2
    truth[ball((31, 8, 8), 1.5)] = 3
    # D: two voxels of enhancing tumour, predicted with one voxel more
    truth[5, 30, 27:29] = 3
    prediction[5, 30, 26:29] = 3
    # E: a false positive
    prediction[ball((6, 30, 6), 2)] = 2
    # F: oedema in the volume's corner
    truth[36:40, 0:4, 28:32] = 2
    prediction[37:40, 0:5, 29:32] = 2
    return prediction, truth


def edge_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth), uint8 (20, 20, 20): WT found; the truth's enhancing core predicted as oedema (TC and ET
    missed)."""
    truth = np.zeros((20, 20, 20), np.uint8)
    truth[5:12, 5:12, 5:12] = 2
    truth[7:10, 7:10, 7:10] = 3
    prediction = np.zeros_like(truth)
    prediction[6:13, 5:12, 5:12] = 2
    return prediction, truth


def apart_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth), uint8 (20, 20, 20): the prediction's tumour does not touch the truth's; no necrosis in
    either (TC is ET)."""
    truth = edge_case()[1]
    prediction = np.zeros_like(truth)
    prediction[14:18, 14:18, 14:18] = 2
    prediction[15:17, 15:17, 15:17] = 3
    return prediction, truth


def oedema_only_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth), uint8 (20, 20, 20): oedema alone in both, so TC and ET are empty in both."""
    truth = np.zeros((20, 20, 20), np.uint8)
    truth[4:12, 4:12, 4:12] = 2
    prediction = np.zeros_like(truth)
    prediction[5:12, 4:13, 4:12] = 2
    return prediction, truth


def shifted(labels: np.ndarray, offset: tuple[int, int, int]) -> np.ndarray:
    """``labels`` moved by ``offset`` voxels, the uncovered voxels 0 (no wrap-around)."""
    moved = np.zeros_like(labels)
    target = tuple(slice(max(o, 0), n + min(o, 0)) for o, n in zip(offset, labels.shape))
    source = tuple(slice(max(-o, 0), n - max(o, 0)) for o, n in zip(offset, labels.shape))
    moved[target] = labels[source]
    return moved


def corner_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth), uint8 (12, 12, 12): the truth's oedema is two cubes touching at one corner (one lesion
    with 26-neighbours, two with 6) and a single voxel; the prediction covers one cube and the voxel."""
    truth = np.zeros((12, 12, 12), np.uint8)
    truth[2:5, 2:5, 2:5] = 2
    truth[5:8, 5:8, 5:8] = 2
    truth[10, 10, 10] = 2
    prediction = np.zeros_like(truth)
    prediction[2:5, 2:5, 2:5] = 2
    prediction[10, 10, 10] = 2
    return prediction, truth
