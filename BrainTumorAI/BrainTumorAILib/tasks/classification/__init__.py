"""Tumour-type classification: the 2D classifier (image conventions, standardisation, prediction) and seed 004's
volume rule; its training lives in the lab (``BrainTumorAILab.classification``)."""

from .dataset import CLASSES
from .volume import classify_case

__all__ = ["CLASSES", "classify_case"]
