"""Tumour-type classification: 2D classifier (dataset, twins, training, prediction) and seed 004's volume rule."""

from .dataset import CLASSES
from .volume import classify_case

__all__ = ["CLASSES", "classify_case"]
