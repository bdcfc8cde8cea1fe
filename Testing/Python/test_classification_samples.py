"""The bundled default classifier on the real 3D samples: no tumour study is called tumour-free, and the slices it
reads look like its training images (head-framed and equalised)."""

from __future__ import annotations

import pytest

from BrainTumorAILib.core.case import load_case
from BrainTumorAILib.core.registry import Registry
from BrainTumorAILib.tasks.classification import classify_case


@pytest.mark.parametrize("case", ["BraTS-GLI-00001-000", "TCGA-FG-6692"])
def test_tumour_studies_are_not_called_tumour_free(data_dir, case):
    folder = data_dir / "samples" / case
    if not folder.is_dir():
        pytest.skip(f"sample {case} not found under {data_dir}")
    result = classify_case(load_case(folder), device="cpu", with_slices=True)
    assert result["sequence"] == "t1c"
    assert result["model"]["id"] == Registry.load().resolve("classification", None).id
    assert result["label"] != "notumor" and result["vote_counts"]["notumor"] < 27
    assert sum(len(votes) for votes in result["votes"].values()) == 27
    slices = result["slice_images"]
    assert slices.shape[0] == 27 and 0 <= slices.min() and slices.max() <= 1
    inside = slices[slices > 0]  # equalised inside the head: its grey values are near-uniform ranks
    assert abs(float(inside.mean()) - 0.5) < 0.1 and (slices == 0).mean() > 0.05
