"""Cheap checks that the series of a case are the contrasts they are named, on one grid, before a model sees them.

Each check compares series over the voxels that are foreground in all of them, when those are a brain (at most
``BRAIN_VOLUME_ML``: stripped series, as the pipeline feeds the segmenter); a whole head is not judged:

- t2 / t1c: cerebrospinal fluid is the brightest tissue on T2 and dark on T1c, so most of a T2's brightest 3% lie
  below the T1c's median (the fluid share); a T1's brightest voxels are white matter, bright on T1c;
- t2 / flair: fluid is suppressed on FLAIR, so most of the T2's brightest voxels also lie below the FLAIR's median;
  a FLAIR's brightest (oedema, grey matter) are bright on T2;
- t1 / t1c: contrast uptake (enhancing tumour, vessels, choroid plexus, dura) makes the robust z-scored T1c minus
  T1 far brighter in its upper tail than dark in its lower one; ``uptake`` is the sum of the two tails (0.5th and
  99.5th percentiles), positive for a true pair and its negative when the names are swapped.

A case that fails one is refused (InputError naming the files the check concerns). The checks assume series that
line up, so the message names misalignment as a cause as well. Measured on the 14 studies of the shared data with
all four series (ten BraTS 2019-2021 cases, the BraTS 2023 glioma and metastasis samples, the SRI24 case,
TCGA-FG-6692 co-registered, over its HD-BET brain): every study passes under its own names, and each of the swaps
t1 / t1c, flair / t2 and t1 / t2 is refused on every study. Fluid share of the T2 on the T1c 0.80-0.98 (a T1's
0.00-0.27), on the FLAIR 0.50-0.99 (a FLAIR's on the T2 0.00-0.07); uptake 2.6 to 7.1 (swapped: -2.6 to -7.1).
A swap of t1c with t2 is refused on 9 of the 14, one of flair with t1 on 1 (both series dark in fluid: no cheap
check tells them apart).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .checks import source_of
from .errors import InputError
from .image import Image
from .preprocess import BRAIN_VOLUME_ML, foreground_mask

FLUID_TOP_PERCENT = 3.0
T2_FLUID_ON_T1C = 0.5        # a t2 whose fluid share on the t1c is under this is no T2
T2_FLUID_ON_FLAIR = 0.25     # a t2 whose fluid share on the flair is under this: fluid is not suppressed there
UPTAKE_SWAPPED = -1.0        # uptake under this: the t1 shows the contrast uptake, not the t1c
MIN_VOXELS = 10_000          # fewer common foreground voxels than this: too little brain to judge


def check_contrasts(images: Mapping[str, Image], sources: Mapping[str, Image] | None = None) -> None:
    """Raise InputError when ``images`` ({sequence: image}, all on one grid, skull-stripped) do not read as the
    contrasts they are named, naming the files of ``sources`` (the images as loaded, when ``images`` are resampled
    copies). Unstripped series are not judged."""
    present = [name for name in ("flair", "t1", "t1c", "t2") if name in images]
    if len(present) < 2:
        return
    inside = np.logical_and.reduce([foreground_mask(images[name].array) for name in present])
    voxels = int(inside.sum())
    if voxels < MIN_VOXELS or voxels * float(np.prod(images[present[0]].spacing)) / 1000.0 > BRAIN_VOLUME_ML[1]:
        return  # too little to judge, or a whole head (skull, scalp, noisy air) where fluid is not the brightest
    finding = _first_finding({name: images[name].array[inside].astype(np.float32) for name in present})
    if finding is not None:
        text, names = finding
        files = ", ".join(f"{name} {source_of((sources or images).get(name, images[name]))}" for name in names)
        raise InputError(f"{text}: {files}; check which file is which sequence, and that the series line up "
                         "(`braintumorai run` co-registers them; `segment` takes them as they are)")


def _first_finding(values: Mapping[str, np.ndarray]) -> tuple[str, tuple[str, ...]] | None:
    """The first contradiction of the names of ``values`` ({sequence: intensities of the same voxels}) and the
    sequences it concerns, or None."""
    if "t2" in values and "t1c" in values:
        share = fluid_dark_share(values["t2"], values["t1c"])
        if share < T2_FLUID_ON_T1C:
            return (f"The image given as t2 does not read as a T2 (fluid is not bright on it: {share:.2f} of its "
                    "brightest voxels are dark on the t1c)", ("t2", "t1c"))
    if "t2" in values and "flair" in values:
        share = fluid_dark_share(values["t2"], values["flair"])
        if share < T2_FLUID_ON_FLAIR:
            return (f"The images given as flair and t2 do not read as a FLAIR and a T2, swapped? (fluid is not "
                    f"suppressed on the flair: {share:.2f} of the t2's brightest voxels are dark on it)",
                    ("flair", "t2"))
    if "t1" in values and "t1c" in values:
        uptake = contrast_uptake(values["t1"], values["t1c"])
        if uptake < UPTAKE_SWAPPED:
            return (f"The images given as t1 and t1c look swapped (the t1 shows the contrast uptake, not the t1c: "
                    f"uptake {uptake:.2f})", ("t1", "t1c"))
    return None


def robust_z(values: np.ndarray) -> np.ndarray:
    """(values - median) / interquartile range, float32 (N,)."""
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return (values - q50) / max(float(q75 - q25), 1e-6)


def contrast_uptake(t1: np.ndarray, t1c: np.ndarray) -> float:
    """Sum of the 0.5th and 99.5th percentiles of robust-z(t1c) - robust-z(t1) over the same voxels (N,)."""
    low, high = np.percentile(robust_z(t1c) - robust_z(t1), [0.5, 99.5])
    return float(low + high)


def fluid_dark_share(bright: np.ndarray, dark: np.ndarray) -> float:
    """Share of ``bright``'s top ``FLUID_TOP_PERCENT`` voxels that lie below ``dark``'s median (same voxels, (N,)).

    The median, not a lower quantile: a brain mask that takes in the CSF around the brain may be a quarter fluid."""
    top = bright >= np.percentile(bright, 100.0 - FLUID_TOP_PERCENT)
    return float(np.mean(dark[top] < np.median(dark)))
