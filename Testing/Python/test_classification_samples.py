"""The bundled default classifier on the real 3D samples: every tumour study answers a tumour class."""

from __future__ import annotations

import pytest

from BrainTumorAILib.case import load_case
from BrainTumorAILib.classification import CLASSES, classify_case


@pytest.mark.parametrize("case", ["BraTS-GLI-00001-000", "TCGA-FG-6692"])
def test_tumour_studies_are_not_called_tumour_free(data_dir, case):
    folder = data_dir / "samples" / case
    if not folder.is_dir():
        pytest.skip(f"sample {case} not found under {data_dir}")
    result = classify_case(load_case(folder), device="cpu")
    assert result["sequence"] == "t1c" and result["model"]["id"] == "classifier-resnet10-2d"
    assert result["label"] in CLASSES and result["label"] != "notumor"
    assert sum(len(votes) for votes in result["votes"].values()) == 27
