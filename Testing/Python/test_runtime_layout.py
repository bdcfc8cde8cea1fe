"""Runtime and lab apart: no runtime module (pipeline, tasks, report, CLI, the engine the Slicer module imports)
imports the lab package, and the lab's commands say clearly when it is not installed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from BrainTumorAILib.cli import main

RUNTIME = Path(__file__).resolve().parents[2] / "BrainTumorAI" / "BrainTumorAILib"
PROBE = """
import importlib, pkgutil, sys
import BrainTumorAILib
from BrainTumorAILib.cli import build_parser
for module in pkgutil.walk_packages(BrainTumorAILib.__path__, "BrainTumorAILib."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
build_parser()
print(",".join(sorted(name for name in sys.modules if name.split(".")[0] == "BrainTumorAILab")) or "none")
"""


def test_importing_every_runtime_module_and_the_command_line_loads_no_lab_module():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "none"


def test_no_runtime_file_names_the_lab_in_an_import_statement():
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] == "BrainTumorAILab" for name in names), path


def test_lab_commands_without_the_lab_fail_with_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "BrainTumorAILab", None)  # as in Slicer, which installs the runtime only
    assert main(["train", "strip", "--config", str(tmp_path / "config.json")]) == 2
    assert "needs the lab package BrainTumorAILab" in capsys.readouterr().err
    assert main(["evaluate", "--pred", str(tmp_path), "--truth", str(tmp_path)]) == 2
    assert "'braintumorai evaluate' needs the lab package" in capsys.readouterr().err
