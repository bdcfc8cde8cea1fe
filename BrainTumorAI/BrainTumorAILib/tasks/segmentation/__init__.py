"""Tumour segmentation: network input (``inputs``), sliding-window inference with TTA (``inference``),
postprocessing, BraTS metrics, and ``segment_case`` tying them together on the reference input's grid."""

from .segment import SegmentationResult, segment_case

__all__ = ["SegmentationResult", "segment_case"]
