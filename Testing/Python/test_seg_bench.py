"""The benchmark's pieces on a phantom: the textbook MONAI path writes a label map on the input grid, and a child's
figures are measured. (Speed itself is only printed by ``make bench``, never asserted.)"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from seg_models import SOFTMAX_OUTPUTS, tiny_card, write_registry

from BrainTumorAILab import bench
from BrainTumorAILib.core.image import load_image, reorient, save_image
from BrainTumorAILib.core.phantom import make_phantom


@pytest.mark.parametrize("tta", [[], ["--tta"]], ids=["one-pass", "flip-tta"])
def test_textbook_path_writes_labels_on_the_input_grid_and_agrees_with_itself(tmp_path, monkeypatch, tta):
    write_registry(tmp_path, [tiny_card("tiny-softmax", ["flair", "t1c"], SOFTMAX_OUTPUTS)], monkeypatch)
    phantom = make_phantom(4, shape=(40, 40, 36), spacing=(5.0, 5.0, 5.0))
    case = tmp_path / "case"
    for name in ("flair", "t1c"):
        save_image(reorient(phantom.images[name], "LPS"), case / f"{name}.nii.gz")
    out = tmp_path / "textbook.nii.gz"
    assert bench.main(["--worker", "textbook", "--case", str(case), "--model", "tiny-softmax", "--out", str(out),
                       *tta]) == 0
    labels = load_image(out, label=True)
    assert labels.same_grid(load_image(case / "flair.nii.gz"))
    assert set(np.unique(labels.array)) <= {0, 1, 2, 4}
    assert bench._agreement(out, out) == {"WT": 1.0, "TC": 1.0, "ET": 1.0}


def test_a_child_is_measured_and_a_failing_child_stops_the_bench():
    figures = bench._measure([sys.executable, "-c", "bytearray(50 * 2**20); print('log'); print('{\"seconds\": 0.5}')"])
    assert figures["wall_s"] > 0 and figures["peak_rss_mb"] >= 50 and figures["work_s"] == 0.5
    with pytest.raises(SystemExit, match="exit code 3"):
        bench._measure([sys.executable, "-c", "raise SystemExit(3)"])


def test_repeated_runs_are_summarised_by_their_medians():
    runs = [{"wall_s": 9.0, "work_s": 2.0}, {"wall_s": 5.0, "work_s": 3.0}, {"wall_s": 6.0, "work_s": 1.0}]
    assert bench._median(runs) == {"wall_s": 6.0, "work_s": 2.0}
