"""The brightness-shortcut check: accuracy on brightness-shifted copies of held-out images beside the originals.

A classifier that reads class from brightness loses accuracy when the same images are made brighter or darker; one
that reads anatomy does not. The shifts are those a display window, a scanner or a JPEG export apply: gamma 0.6 and
1.6 (mid-tones brighter / darker) and a gain of 1.5 (brighter, saturating at white) and 0.7 (darker).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from BrainTumorAILib.tasks.classification.standardise import standardise

SHIFTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gamma_0.6": lambda images: images ** 0.6,
    "gamma_1.6": lambda images: images ** 1.6,
    "gain_1.5": lambda images: np.clip(images * 1.5, 0, 1),
    "gain_0.7": lambda images: images * 0.7,
}


def brightness_shift_check(logits_of: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray,
                           labels: np.ndarray, method: str) -> dict[str, Any]:
    """Accuracy on (N, S, S) images in [0, 1] (before standardisation) and on each shifted copy.

    ``logits_of``: standardised (N, S, S) tensor -> (N, classes) logits. Returns {"accuracy", "shifted" {shift:
    accuracy}, "largest_drop_points"} (percentage points, positive when a shift loses accuracy).
    """
    def accuracy(batch: np.ndarray) -> float:
        prepared = torch.from_numpy(standardise(batch.astype(np.float32), method))
        return float((logits_of(prepared).argmax(1).numpy() == labels).mean())

    baseline = accuracy(images)
    shifted = {name: round(accuracy(shift(images)), 4) for name, shift in SHIFTS.items()}
    return {"accuracy": round(baseline, 4), "shifted": shifted,
            "largest_drop_points": round(100 * (baseline - min(shifted.values())), 2)}
