"""Run one job over every case folder of a directory: skip finished cases, log failures, go on.

Shared by ``braintumorai batch`` and the Slicer batch script, which differ only in how one case is processed.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, TextIO

from .core.case import find_sequences
from .core.errors import BrainTumorAIError

FINISHED_MARKER = "report.json"


@dataclasses.dataclass
class BatchSummary:
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)


def case_folders(cases_dir: Path) -> list[Path]:
    """Sub-folders of ``cases_dir`` (sorted, links followed) that hold at least one recognised sequence."""
    if not cases_dir.is_dir():
        raise BrainTumorAIError(f"Cases folder not found: {cases_dir}")
    folders = []
    for folder in sorted(p for p in cases_dir.iterdir() if p.is_dir()):
        try:
            if find_sequences(folder):
                folders.append(folder)
        except BrainTumorAIError:
            folders.append(folder)  # ambiguous names: let the case fail with its own message
    return folders


def run_batch(cases_dir: str | Path, out_dir: str | Path, process: Callable[[Path, Path], str],
              log: TextIO | None = None) -> BatchSummary:
    """Call ``process(case_folder, case_out_dir) -> summary line`` for each case not yet finished.

    A case is finished when its output folder holds report.json (written last). One line per case goes to ``log``
    (default: the standard error stream in force at the call).
    """
    log = log or sys.stderr
    folders = case_folders(Path(cases_dir))
    summary = BatchSummary()
    for index, folder in enumerate(folders, start=1):
        out = Path(out_dir) / folder.name
        prefix = f"[{index}/{len(folders)}] {folder.name}:"
        if (out / FINISHED_MARKER).exists():
            summary.skipped.append(folder.name)
            print(f"{prefix} skipped (already finished)", file=log, flush=True)
            continue
        started = time.perf_counter()
        try:
            line = process(folder, out)
        except Exception as error:  # noqa: BLE001 - one bad case must not stop the batch
            summary.failed[folder.name] = str(error)
            detail = str(error) if isinstance(error, BrainTumorAIError) else traceback.format_exc(limit=3)
            print(f"{prefix} FAILED: {detail.strip()}", file=log, flush=True)
            continue
        summary.done.append(folder.name)
        print(f"{prefix} done in {time.perf_counter() - started:.1f} s; {line}", file=log, flush=True)
    print(f"batch: {len(summary.done)} done, {len(summary.skipped)} skipped, {len(summary.failed)} failed",
          file=log, flush=True)
    return summary
