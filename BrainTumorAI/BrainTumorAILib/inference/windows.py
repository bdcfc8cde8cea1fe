"""The one sliding-window runner of the learned stages (stripping and segmentation): MONAI sliding windows with
blending over a network input, and the window settings a model card gives it.

Arrays here are torch tensors (B, C, I, J, K) on the stage's network grid; this file never looks at affines.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import torch
from monai.inferers import sliding_window_inference


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    """Sliding-window options: window size (multiple of the network's stride), overlap, windows per batch.

    With ``multiple`` (the network's stride), a window never exceeds the volume rounded up to that multiple, so a
    volume smaller than the window along an axis is run in one piece there instead of being padded out to it.
    """

    roi_size: tuple[int, int, int] = (128, 128, 128)
    overlap: float = 0.25
    sw_batch_size: int = 1
    mode: str = "gaussian"
    multiple: int | None = None

    @classmethod
    def from_card(cls, card: Any, **overrides: Any) -> "WindowSettings":
        """The settings of a model card or training config: its ``inference`` window options and its
        ``preprocessing.multiple`` (the stride), then the ``overrides`` that are not None."""
        values = {key: card.inference[key] for key in ("roi_size", "overlap", "sw_batch_size", "mode")
                  if key in card.inference}
        if "multiple" in card.preprocessing:
            values["multiple"] = int(card.preprocessing["multiple"])
        values.update({key: value for key, value in overrides.items() if value is not None})
        if "roi_size" in values:
            values["roi_size"] = tuple(int(n) for n in values["roi_size"])
        return cls(**values)

    def fitted(self, shape: Sequence[int]) -> "WindowSettings":
        """These settings with the window cut down to a volume of ``shape`` (when ``multiple`` is set)."""
        if not self.multiple:
            return self
        roi = tuple(min(r, -(-int(n) // self.multiple) * self.multiple) for r, n in zip(self.roi_size, shape))
        return dataclasses.replace(self, roi_size=roi)

    def window_count(self, shape: Sequence[int]) -> int:
        """How many windows MONAI's sliding window visits over a volume of ``shape`` (after padding to the roi)."""
        count = 1
        for size, roi in zip(shape, self.roi_size):
            size = max(size, roi)
            interval = roi if size == roi else max(int(roi * (1 - self.overlap)), 1)
            count *= math.ceil((size - roi) / interval) + 1
        return count


def window_logits(network: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                  settings: WindowSettings) -> torch.Tensor:
    """Logits (B, C', I, J, K) of ``network`` over ``inputs`` (B, C, I, J, K): windows of ``settings.roi_size``
    ``settings.overlap`` apart, ``settings.sw_batch_size`` per call, blended by ``settings.mode``; MONAI pads an
    axis shorter than the window at both ends (the segmenter pads its input at the far end first)."""
    return sliding_window_inference(inputs, settings.roi_size, settings.sw_batch_size, network,
                                    overlap=settings.overlap, mode=settings.mode)
