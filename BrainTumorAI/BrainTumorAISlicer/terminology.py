"""Segment names, colours and standard terminology (SNOMED CT codes) in Slicer's terminology-entry string format.

The names, colours and codes are engine data (``BrainTumorAILib.core.labels``); this file only writes them the way
Slicer's Terminologies module serialises an entry:
``context~category~type~typeModifier~anatomicContext~region~regionModifier``, each code as ``scheme^value^meaning``.
"""

from __future__ import annotations

import dataclasses

from BrainTumorAILib.core.labels import (BRAIN_STYLE, CLASS_NAMES, SEGMENT_STYLE, TERMINOLOGY_CATEGORY,
                                         TERMINOLOGY_REGION)

CATEGORY_CONTEXT = "Segmentation category and type - DICOM master list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
_NO_CODE = "^^"


@dataclasses.dataclass(frozen=True)
class SegmentSpec:
    """How one segment is shown: segment id, name, RGB colour (0..1) and terminology entry string."""

    identifier: str
    name: str
    colour: tuple[float, float, float]
    terminology: str


def _code(value_and_meaning: tuple[str, str]) -> str:
    value, meaning = value_and_meaning
    return f"SCT^{value}^{meaning}"


def terminology_entry(category: tuple[str, str], type_: tuple[str, str], region: tuple[str, str] | None) -> str:
    """Slicer's serialised terminology entry for SNOMED CT (value, meaning) codes."""
    anatomy = [ANATOMIC_CONTEXT, _code(region), _NO_CODE] if region else ["", _NO_CODE, _NO_CODE]
    return "~".join([CATEGORY_CONTEXT, _code(category), _code(type_), _NO_CODE, *anatomy])


def tumour_segments() -> dict[int, SegmentSpec]:
    """Segment specs by engine class (1 necrosis, 2 oedema, 3 enhancing tumour)."""
    return {
        cls: SegmentSpec(CLASS_NAMES[cls], style["name"], tuple(style["colour"]),
                         terminology_entry(TERMINOLOGY_CATEGORY, style["type"], TERMINOLOGY_REGION))
        for cls, style in SEGMENT_STYLE.items()
    }


def brain_segment() -> SegmentSpec:
    """The brain-mask segment (Anatomical Structure / Brain)."""
    return SegmentSpec("brain", BRAIN_STYLE["name"], tuple(BRAIN_STYLE["colour"]),
                       terminology_entry(BRAIN_STYLE["category"], BRAIN_STYLE["type"], None))
