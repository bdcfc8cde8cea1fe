"""Turning a rough brain mask into one solid brain: largest connected component, holes filled."""

from ...core.preprocess import bounding_box, dice, fill_holes, largest_component, solid_component  # noqa: F401  (re-exported)
