"""The Slicer GUI process stays light: its logic, results and process modules never import torch or MONAI (the work
runs in a child process, and torch alone costs seconds and gigabytes in the GUI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("slicer")
MODULE_DIR = Path(__file__).resolve().parents[2] / "BrainTumorAI"
PROBE = """
import sys
import BrainTumorAISlicer.logic, BrainTumorAISlicer.results, BrainTumorAISlicer.process
heavy = sorted(name for name in ("torch", "monai") if name in sys.modules)
print(",".join(heavy) or "none")
"""


def test_the_gui_modules_import_neither_torch_nor_monai():
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=MODULE_DIR, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "none"
