"""Shared pytest fixtures: where the real data is, and small synthetic images with known geometry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test helpers (slicer harness) import by module name


def find_data_dir() -> Path | None:
    """``$BRAINTUMORAI_DATA`` when set, else ``../shared/data`` beside the repository; None when absent."""
    candidate = Path(os.environ.get("BRAINTUMORAI_DATA", REPO_ROOT.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real MRI data folder, or skip: set BRAINTUMORAI_DATA or place shared/data beside the repository."""
    found = find_data_dir()
    if found is None:
        pytest.skip("real MRI data not found: set BRAINTUMORAI_DATA or put shared/data beside the repository")
    return found


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads in tests go to a fresh cache, never to the user's ~/.braintumorai."""
    monkeypatch.setenv("BRAINTUMORAI_HOME", str(tmp_path_factory.mktemp("braintumorai_home")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
