"""The Slicer GUI process stays light: its logic, results, process and sample-data modules never import torch or
MONAI (the work runs in a child process, and torch alone costs seconds and gigabytes in the GUI), and the sample
cases' registration, which runs at Slicer's startup before the module installs its dependencies, needs none of
them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("slicer")
MODULE_DIR = Path(__file__).resolve().parents[2] / "BrainTumorAI"
PROBE = """
import sys
import {modules}
loaded = sorted(name for name in {names} if name in sys.modules)
print(",".join(loaded) or "none")
"""


def _loaded_after_import(modules: str, names: tuple[str, ...]) -> str:
    """Which of ``names`` are in sys.modules after a fresh interpreter imports ``modules`` from the module folder."""
    probe = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules, names=names)], cwd=MODULE_DIR,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    return probe.stdout.strip()


def test_the_gui_modules_import_neither_torch_nor_monai():
    modules = ("BrainTumorAISlicer.logic, BrainTumorAISlicer.results, BrainTumorAISlicer.process, "
               "BrainTumorAISlicer.sample_data")
    assert _loaded_after_import(modules, ("torch", "monai")) == "none"


def test_the_sample_data_registration_needs_nothing_the_module_installs_on_first_use():
    first_use = ("torch", "monai", "nibabel", "scipy", "skimage", "tqdm", "jsonschema", "safetensors", "nrrd", "PIL",
                 "matplotlib", "highdicom")
    assert _loaded_after_import("BrainTumorAISlicer.sample_data", first_use) == "none"
