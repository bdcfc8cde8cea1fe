"""Free fluid (CSF) inside the brain from FLAIR and T2: the signal FLAIR suppresses and T2 shows brightest.

No manual tumour label of the 10 shared BraTS 2019-2021 cases lies on it (at most 0.2 mL of 17-217 mL per case, in
38-108 mL of fluid-like brain), while a model that mistakes the ventricles for necrosis paints its core there; the
plausibility checks flag that and the postprocessing can veto it (``PostprocessOptions.fluid_veto``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

FLAIR_PERCENTILE = 20.0
T2_PERCENTILE = 90.0


def fluid_like(flair: np.ndarray, t2: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """Voxels (I, J, K) bool of ``brain`` below its ``FLAIR_PERCENTILE`` on ``flair`` and above its
    ``T2_PERCENTILE`` on ``t2`` (both (I, J, K) on the brain's grid). Percentiles, so the intensity scale of either
    series does not matter."""
    flair_cut = np.percentile(flair[brain], FLAIR_PERCENTILE)
    t2_cut = np.percentile(t2[brain], T2_PERCENTILE)
    return brain & (flair < flair_cut) & (t2 > t2_cut)


def fluid_mask(images: Mapping[str, np.ndarray], brain: np.ndarray) -> np.ndarray | None:
    """``fluid_like`` of ``images`` ({sequence: (I, J, K) array on the brain's grid}); None without FLAIR and T2 or
    an empty brain, where fluid cannot be told from tumour."""
    if not brain.any() or not {"flair", "t2"} <= images.keys():
        return None
    return fluid_like(images["flair"], images["t2"], brain)
