"""Run the engine's ``braintumorai run`` in a child process so Slicer stays responsive; read progress; cancel.

The inputs and the options (one JSON document, ``protocol.write_options``) are written to a temporary folder,
``PythonSlicer`` (or this Python) runs ``-m BrainTumorAILib.cli run --options options.json --progress-lines ...``, a
reader thread parses its lines (``protocol.parse_line``), and ``cancel()`` kills the child's whole process tree. ``poll()`` never blocks, so a GUI timer can call it; ``wait()`` blocks for scripts.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Mapping

from BrainTumorAILib.core.image import Image, save_image
from BrainTumorAILib.pipeline import PipelineOptions
from BrainTumorAILib.protocol import parse_line, write_options

PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # the module folder holding BrainTumorAILib


@dataclasses.dataclass
class JobState:
    """A snapshot of the child process: percent done, current step, and how it ended (None while running)."""

    percent: float = 0.0
    step: str = "starting"
    returncode: int | None = None
    cancelled: bool = False
    error: str | None = None
    log: list[str] = dataclasses.field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.returncode is None and not self.cancelled

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.cancelled


def python_executable() -> str:
    """``PythonSlicer`` inside the Slicer application (it sets up Slicer's Python), else this interpreter."""
    return shutil.which("PythonSlicer") or sys.executable


class PipelineProcess:
    """One pipeline run in a child process; the output folder is ``self.out_dir`` inside ``self.work_dir``."""

    def __init__(self, images: Mapping[str, Image], options: PipelineOptions, *, python: str | None = None) -> None:
        self.work_dir = Path(tempfile.mkdtemp(prefix="BrainTumorAI-"))
        self.out_dir = self.work_dir / "out"
        options_file = write_options(options, self.work_dir / "options.json")
        command = [python or python_executable(), "-m", "BrainTumorAILib.cli", "run", "-o", str(self.out_dir),
                   "--progress-lines", "--options", str(options_file)]
        for sequence, image in images.items():
            # uncompressed: the child reads them once, and gzip would cost more than the disk it saves
            command += [f"--{sequence}", str(save_image(image, self.work_dir / f"{sequence}.nii"))]
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT),
                                                                 environment.get("PYTHONPATH")]))
        self.command = command
        self._state = JobState()
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            errors="replace", env=environment, cwd=self.work_dir, start_new_session=(os.name != "nt"),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._process.stdout:
            self._parse(line.rstrip("\n"))
        returncode = self._process.wait()
        with self._lock:
            self._state.returncode = returncode
            if returncode != 0 and not self._state.cancelled and not self._state.error:
                tail = "\n".join(self._state.log[-5:])
                self._state.error = f"The pipeline process ended with code {returncode}:\n{tail}"

    def _parse(self, line: str) -> None:
        kind, payload = parse_line(line)
        with self._lock:
            if kind == "progress":
                self._state.percent, self._state.step = payload
                return
            if kind == "error":
                self._state.error = payload
            self._state.log.append(line)

    def poll(self) -> JobState:
        """The current state (a copy); never blocks."""
        with self._lock:
            return dataclasses.replace(self._state, log=list(self._state.log))

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the child ends (or ``timeout`` seconds pass); return the state."""
        self._reader.join(timeout)
        return self.poll()

    def cancel(self) -> None:
        """Kill the child and everything it started; the state becomes cancelled."""
        with self._lock:
            if self._state.returncode is not None:
                return
            self._state.cancelled = True
        if os.name == "nt":  # the PythonSlicer launcher starts the real interpreter as its own child
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(self._process.pid)], capture_output=True)
        else:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reader.join(10)

    def cleanup(self) -> None:
        """Remove the temporary folder (inputs and outputs); cancels the child first if it still runs."""
        if self.poll().running:
            self.cancel()
        shutil.rmtree(self.work_dir, ignore_errors=True)
