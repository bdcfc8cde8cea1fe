"""Clean a predicted class map (0 bg, 1 NCR, 2 ED, 3 ET; (I, J, K) uint8) with its voxel spacing.

1. drop connected components of the whole tumour smaller than ``min_component_ml`` or than
   ``min_component_fraction`` of the largest one (stray false positives far from the tumour, which ruin HD95, while
   a satellite lesion of real size stays);
2. fill holes: background enclosed by the tumour core becomes necrosis, background enclosed by the whole tumour
   becomes oedema;
3. optionally the challenge rule: when the enhancing tumour is smaller than ``small_et_ml`` in total it is
   relabelled necrosis (small ET predictions are mostly false positives and an empty ET scores Dice 1);
4. optionally (``fluid_veto``) tumour on free fluid (``fluid.fluid_like``: the ventricles' CSF, which no manual
   label of the shared cases covers) becomes background, where FLAIR and T2 tell fluid apart.

Options come from the model card's ``inference.postprocessing`` ({"min_component_ml", "min_component_fraction",
"fill_holes", "small_et_ml", "fluid_veto"}); missing keys take the defaults below.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

from ...core import preprocess

NECROSIS, EDEMA, ENHANCING = 1, 2, 3


@dataclasses.dataclass(frozen=True)
class PostprocessOptions:
    min_component_ml: float = 0.1
    min_component_fraction: float = 0.0
    fill_holes: bool = True
    small_et_ml: float | None = None
    fluid_veto: bool = False

    @classmethod
    def from_card(cls, settings: Mapping[str, Any] | None) -> "PostprocessOptions":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in (settings or {}).items() if key in known})


def postprocess(classes: np.ndarray, spacing: Sequence[float], options: PostprocessOptions = PostprocessOptions(),
                fluid: np.ndarray | None = None) -> np.ndarray:
    """A cleaned copy of ``classes`` (uint8, same shape); the input is not modified. ``fluid`` (bool, same shape;
    ``fluid.fluid_mask``) is what ``options.fluid_veto`` clears, when known.

    Each step works inside the tumour's bounding box grown by one voxel, which gives the same result as the whole
    volume (the grown rim is background, so it connects every outside region) at a fraction of the cost; the box is
    taken again after the small components are gone, so hole filling sees the tumour's box, not the strays'.
    """
    cleaned = np.array(classes, dtype=np.uint8, copy=True)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    if (options.min_component_ml > 0 or options.min_component_fraction > 0) and cleaned.any():
        _drop_small_components(_tumour_box(cleaned), int(np.ceil(options.min_component_ml / voxel_ml)),
                               options.min_component_fraction)
    if not cleaned.any():
        return cleaned
    box = _tumour_box(cleaned)
    if options.fill_holes:
        core = (box == NECROSIS) | (box == ENHANCING)
        box[preprocess.fill_holes(core) & (box == 0)] = NECROSIS
        box[preprocess.fill_holes(box > 0) & (box == 0)] = EDEMA
    if options.small_et_ml is not None:
        enhancing = box == ENHANCING
        if 0 < enhancing.sum() * voxel_ml < options.small_et_ml:
            box[enhancing] = NECROSIS
    if options.fluid_veto and fluid is not None:
        return clear_fluid(cleaned, fluid)
    return cleaned


def clear_fluid(classes: np.ndarray, fluid: np.ndarray) -> np.ndarray:
    """A copy of ``classes`` (I, J, K) with every voxel of ``fluid`` (bool, same shape) made background."""
    return np.where(fluid, np.uint8(0), classes).astype(np.uint8, copy=False)


def _tumour_box(classes: np.ndarray) -> np.ndarray:
    """A view of ``classes`` (which holds some tumour) on the tumour's bounding box grown by one voxel."""
    return classes[preprocess.bounding_box(classes > 0, margin=1).slices]


def _drop_small_components(classes: np.ndarray, min_voxels: int, min_fraction: float) -> None:
    """Zero (in place) the whole-tumour components (26-connectivity) of fewer than ``min_voxels`` voxels or than
    ``min_fraction`` of the largest component's voxels."""
    components, count = ndimage.label(classes > 0, structure=np.ones((3, 3, 3), dtype=bool))
    if count == 0:
        return
    sizes = np.bincount(components.ravel())
    small = sizes < max(min_voxels, min_fraction * sizes[1:].max())
    small[0] = False
    if small.any():
        classes[small[components]] = 0
