"""Tumour label conventions and evaluation regions (CONVENTIONS.md).

Inside the engine a tumour map is a *class map*: 0 background, 1 necrotic / non-enhancing core (NCR),
2 oedema (ED), 3 enhancing tumour (ET). Files use one of the challenge conventions below.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

CLASS_NAMES = ("background", "necrosis", "edema", "enhancing")
# file label of NCR, ED, ET per convention; brats2013 also has 3 = non-enhancing core, read as NCR
CONVENTIONS = {
    "brats2021": (1, 2, 4),
    "brats2023": (1, 2, 3),
}
REGIONS = ("WT", "TC", "ET")


def to_convention(classes: np.ndarray, convention: str = "brats2021") -> np.ndarray:
    """Class map (0..3) to the file labels of ``convention``, uint8."""
    ncr, ed, et = _labels_of(convention)
    lookup = np.array([0, ncr, ed, et], dtype=np.uint8)
    return lookup[classes.astype(np.intp)]


def from_convention(labels: np.ndarray, convention: str = "brats2021") -> np.ndarray:
    """File labels to the class map (0..3). ``brats2013`` maps 3 (non-enhancing) to NCR and 4 to ET."""
    labels = np.asarray(labels).astype(np.intp)
    if convention == "brats2013":
        lookup = {0: 0, 1: 1, 2: 2, 3: 1, 4: 3}
    else:
        ncr, ed, et = _labels_of(convention)
        lookup = {0: 0, ncr: 1, ed: 2, et: 3}
    unknown = sorted(set(np.unique(labels).tolist()) - set(lookup))
    if unknown:
        raise InputError(f"Labels {unknown} are not part of the {convention} convention")
    table = np.zeros(max(lookup) + 1, dtype=np.uint8)
    for label, cls in lookup.items():
        table[label] = cls
    return table[labels]


def regions(classes: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluation regions of a class map: WT = NCR | ED | ET, TC = NCR | ET, ET (bool arrays)."""
    return {"WT": classes > 0, "TC": (classes == 1) | (classes == 3), "ET": classes == 3}


def _labels_of(convention: str) -> tuple[int, int, int]:
    if convention not in CONVENTIONS:
        raise InputError(f"Unknown label convention '{convention}' (choose {', '.join(CONVENTIONS)})")
    return CONVENTIONS[convention]


# How each class is shown: segment name, RGB colour in 0..1, and standard terminology (SNOMED CT, CONVENTIONS.md).
# Slicer's terminology lists carry no colour for these types, so the colours are chosen here.
SEGMENT_STYLE = {
    1: {"name": "Necrosis", "colour": (0.85, 0.85, 0.20), "type": ("6574001", "Necrosis")},
    2: {"name": "Edema", "colour": (0.30, 0.75, 0.95), "type": ("79654002", "Edema")},
    3: {"name": "Enhancing tumor", "colour": (0.90, 0.20, 0.20), "type": ("86049000", "Neoplasm, Primary")},
}
TERMINOLOGY_CATEGORY = ("49755003", "Morphologically Altered Structure")
TERMINOLOGY_REGION = ("12738006", "Brain")
BRAIN_STYLE = {"name": "Brain", "colour": (0.95, 0.85, 0.75), "category": ("91723000", "Anatomical Structure"),
               "type": ("12738006", "Brain")}
