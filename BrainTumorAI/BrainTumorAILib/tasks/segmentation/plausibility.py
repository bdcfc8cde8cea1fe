"""Plausibility checks for a tumour segmentation: warnings, never silent, never a changed map.

A segmentation is flagged when
- its whole tumour exceeds ``MAX_BRAIN_SHARE`` of the brain (the input's foreground: the segmenter reads stripped
  brains) or ``MAX_WHOLE_TUMOUR_ML``: the manual whole tumours of the 14 shared BraTS cases are 17-217 mL, at most
  20% of their brain;
- more than ``MAX_OUTSIDE_SHARE`` of it lies outside that brain;
- more than ``MAX_SCATTERED_ML`` of it lies farther than ``SCATTER_MM`` from its largest component: false tumour
  spread over the brain (the old default labelled 165 mL of the raw TCGA study, 139 mL of it more than 15 mm from
  its 11 mL lesion), or a truly multifocal tumour, which a reader should confirm either way;
- more than ``MAX_CORE_IN_FLUID_SHARE`` (and ``MIN_CORE_IN_FLUID_ML``) of its tumour core (necrosis and enhancing
  tumour) lies on ``fluid`` (fluid.py: dark on FLAIR, bright on T2, as the ventricles' CSF), when it is known. At
  most 0.6% of the manual core of the 10 shared BraTS 2019-2021 cases is fluid-like; a model that paints necrosis in
  the ventricles puts 14-67% of its core there (a cross-validation fold's model on two of its five held-out cases).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ...core.preprocess import bounding_box, largest_component

MAX_WHOLE_TUMOUR_ML = 500.0
MAX_BRAIN_SHARE = 0.4
MAX_OUTSIDE_SHARE = 0.05
SCATTER_MM = 30.0
MAX_SCATTERED_ML = 10.0
MAX_CORE_IN_FLUID_SHARE = 0.1
MIN_CORE_IN_FLUID_ML = 1.0
CORE_CLASSES = (1, 3)


def check_segmentation(classes: np.ndarray, spacing: Sequence[float], brain: np.ndarray | None = None) -> list[str]:
    """The failed checks of a class map (I, J, K) (0 background, 1 NCR, 2 ED, 3 ET) on a grid of ``spacing``
    (mm per axis), with ``brain`` (I, J, K) bool when known, as sentences with their figures; empty when it passes.
    The fluid check needs the fluid mask and the map before any veto: ``check_core_in_fluid``."""
    tumour = classes > 0
    if not tumour.any():
        return []
    voxel_ml = float(np.prod(spacing)) / 1000.0
    tumour_ml = float(np.count_nonzero(tumour)) * voxel_ml
    problems = []
    if tumour_ml > MAX_WHOLE_TUMOUR_ML:
        problems.append(f"whole tumour {tumour_ml:.0f} mL is more than a tumour can plausibly be "
                        f"({MAX_WHOLE_TUMOUR_ML:.0f} mL)")
    if brain is not None and brain.any():
        brain_ml = float(np.count_nonzero(brain)) * voxel_ml
        if tumour_ml > MAX_BRAIN_SHARE * brain_ml:
            problems.append(f"whole tumour {tumour_ml:.0f} mL fills {100 * tumour_ml / brain_ml:.0f}% of the "
                            f"{brain_ml:.0f} mL brain (at most {100 * MAX_BRAIN_SHARE:.0f}% is plausible)")
        outside = float(np.count_nonzero(tumour & ~brain)) * voxel_ml
        if outside > MAX_OUTSIDE_SHARE * tumour_ml:
            problems.append(f"{100 * outside / tumour_ml:.0f}% of the whole tumour ({outside:.1f} mL) lies outside "
                            f"the brain (at most {100 * MAX_OUTSIDE_SHARE:.0f}% allowed)")
    scattered = scattered_ml(tumour, spacing)
    if scattered > MAX_SCATTERED_ML:
        problems.append(f"{scattered:.1f} mL of the whole tumour lies more than {SCATTER_MM:.0f} mm from its largest "
                        f"part: scattered false positives or a multifocal tumour, check the map")
    return problems


def check_core_in_fluid(classes: np.ndarray, spacing: Sequence[float], fluid: np.ndarray, cleared: bool = False
                        ) -> list[str]:
    """The fluid check alone, as a sentence when it fails: ``classes`` (I, J, K) is the map as the model painted it
    and ``cleared`` says the fluid veto has since removed that core from the map the user gets."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    core = np.isin(classes, CORE_CLASSES)
    core_ml = float(np.count_nonzero(core)) * voxel_ml
    in_fluid = float(np.count_nonzero(core & fluid)) * voxel_ml
    if in_fluid <= max(MIN_CORE_IN_FLUID_ML, MAX_CORE_IN_FLUID_SHARE * core_ml):
        return []
    outcome = "cleared by the fluid veto, check the map" if cleared else "check the map"
    return [f"{in_fluid:.1f} mL ({100 * in_fluid / core_ml:.0f}%) of the tumour core {'lay' if cleared else 'lies'} on "
            f"fluid-like voxels (dark on FLAIR, bright on T2, as the ventricles are; at most "
            f"{100 * MAX_CORE_IN_FLUID_SHARE:.0f}% expected): necrosis painted on CSF, {outcome}"]


def scattered_ml(tumour: np.ndarray, spacing: Sequence[float]) -> float:
    """mL of ``tumour`` (I, J, K) bool farther than ``SCATTER_MM`` from its largest face-connected component."""
    box = bounding_box(tumour, 1)
    inside = box.apply(tumour)
    main = largest_component(inside)
    distance = ndimage.distance_transform_edt(~main, sampling=spacing)
    return float(np.count_nonzero(inside & (distance > SCATTER_MM))) * float(np.prod(spacing)) / 1000.0
