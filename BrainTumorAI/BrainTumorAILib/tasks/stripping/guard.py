"""Plausibility checks for a brain mask, and the fallback from a failed learned mask to the classical one.

A mask fails a check when
- its volume lies outside ``BRAIN_VOLUME_ML`` (an adult brain with the CSF between its gyri: 700-2200 mL);
- on any of the volume's six faces it covers more than ``BORDER_SHARE`` of its own cross-section along that axis (a
  mask cut by the field of view or run off the image; a whole brain that merely reaches the first or last slice
  covers at most 13% there in the shared data's BraTS volumes and 7% in its 5.5 mm TCGA series);
- more than ``OUTSIDE_SHARE`` of it lies outside the head: ``preprocess.head_mask`` grown by ``HEAD_MARGIN_VOXELS``,
  so that the dark rim of an already stripped brain, which the head's intensity threshold drops, still counts as
  head;
and, as a warning that does not by itself replace the learned mask, when its Dice with a plausible classical mask is
below ``MIN_DICE`` (``disagreement``): the classical method is the weaker one on raw clinical series (0.68 against
HD-BET on the co-registered TCGA T1, where the learned mask scores 0.93), so a disagreement alone is no proof that
the learned mask failed.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import ndimage

from ...core.image import Image
from ...core.preprocess import BRAIN_VOLUME_ML, dice, head_mask

BORDER_SHARE = 0.5
OUTSIDE_SHARE = 0.05
HEAD_MARGIN_VOXELS = 3
HALVED_ABOVE_VOXELS = 8_000_000
MIN_DICE = 0.8
_DIRECTIONS = {"L": "left", "R": "right", "A": "anterior", "P": "posterior", "S": "superior", "I": "inferior"}
_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}


def head_region(volume: np.ndarray) -> np.ndarray:
    """The head of ``volume`` (I, J, K) grown by ``HEAD_MARGIN_VOXELS`` (6-connected steps), bool (I, J, K).

    A volume of more than ``HALVED_ABOVE_VOXELS`` (a 1 mm research head: 16.8 M) is looked at on every second voxel
    along each axis and grown by half the margin, rounded up, there: 6-7x faster on the AOMIC and EDSD heads, where the
    region differs only along its rim, within 4 voxels (3% of its voxels, nearly all added: a wider margin)."""
    if volume.size <= HALVED_ABOVE_VOXELS:
        return ndimage.binary_dilation(head_mask(volume), iterations=HEAD_MARGIN_VOXELS)
    halved = ndimage.binary_dilation(head_mask(volume[::2, ::2, ::2]), iterations=-(-HEAD_MARGIN_VOXELS // 2))
    for axis in range(3):
        halved = np.repeat(halved, 2, axis=axis)
    return halved[: volume.shape[0], : volume.shape[1], : volume.shape[2]]


def check_mask(mask: Image, image: Image, *, head: np.ndarray | None = None) -> list[str]:
    """The failed checks of ``mask`` (0/1, on ``image``'s grid) as sentences with their figures; empty when it
    passes. ``head``: ``head_region(image.array)`` when the caller has it already."""
    if not mask.same_grid(image):
        raise ValueError("check_mask needs the mask and the image on one grid")
    inside = mask.array > 0
    voxel_ml = float(abs(np.linalg.det(image.affine[:3, :3]))) / 1000.0
    volume_ml = float(np.count_nonzero(inside)) * voxel_ml
    problems = []
    if not BRAIN_VOLUME_ML[0] <= volume_ml <= BRAIN_VOLUME_ML[1]:
        problems.append(f"brain volume {volume_ml:.0f} mL is outside the plausible {BRAIN_VOLUME_ML[0]:.0f}-"
                        f"{BRAIN_VOLUME_ML[1]:.0f} mL")
    problems += _border_problems(inside, image.orientation)
    if volume_ml > 0:
        head = head_region(image.array) if head is None else head
        outside = float(np.count_nonzero(inside & ~head)) * voxel_ml
        if outside > OUTSIDE_SHARE * volume_ml:
            problems.append(f"{100 * outside / volume_ml:.0f}% of the mask ({outside:.0f} mL) lies outside the head, "
                            f"in the air (at most {100 * OUTSIDE_SHARE:.0f}% allowed)")
    return problems


def disagreement(mask: Image, classical: Image) -> str | None:
    """A warning when ``mask`` and the ``classical`` mask (one grid) overlap at Dice under ``MIN_DICE``, else None."""
    agreement = dice(mask.array > 0, classical.array > 0)
    if agreement >= MIN_DICE:
        return None
    return f"Dice {agreement:.2f} with the classical mask, below {MIN_DICE}: the two methods disagree, check the mask"


def _border_problems(inside: np.ndarray, orientation: str) -> list[str]:
    """A sentence for each face of the volume on which ``inside`` (I, J, K) covers more than ``BORDER_SHARE`` of its
    cross-section along that axis; ``orientation``: the axis codes, to name the face."""
    problems = []
    for axis, code in enumerate(orientation):
        section = int(np.count_nonzero(inside.any(axis=axis)))
        for end, direction in ((0, _OPPOSITE[code]), (-1, code)):
            share = np.count_nonzero(np.take(inside, end, axis=axis)) / section if section else 0.0
            if share > BORDER_SHARE:
                problems.append(f"the mask fills {100 * share:.0f}% of its cross-section on the "
                                f"{_DIRECTIONS[direction]} face of the volume (at most {100 * BORDER_SHARE:.0f}% "
                                f"allowed): the field of view cuts it or it runs off the image")
    return problems


def choose_mask(learned: Image, classical: Image, warnings: Mapping[str, list[str]]) -> tuple[Image, str, list[str]]:
    """Pick between the ``learned`` and the ``classical`` mask given each one's failed checks (``warnings["learned"]``,
    ``warnings["classical"]``, from ``check_mask``). Returns (mask, method, warnings to show): the learned mask when it
    passes; the classical one when only the learned one fails; else the one with fewer failures (learned on a tie)."""
    if not warnings["learned"]:
        return learned, "learned", []
    shown = [f"learned mask: {problem}" for problem in warnings["learned"]]
    if not warnings["classical"]:
        return classical, "classical", shown + ["the classical mask passed every check and is used instead"]
    shown += [f"classical mask: {problem}" for problem in warnings["classical"]]
    method = "classical" if len(warnings["classical"]) < len(warnings["learned"]) else "learned"
    shown.append(f"both masks failed checks; the {method} one, with fewer failures, is kept: check it before use")
    return (classical if method == "classical" else learned), method, shown
