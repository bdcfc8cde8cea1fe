"""Shared pytest fixtures: where the real data is, a local HTTP server, and small synthetic images with known
geometry."""

from __future__ import annotations

import http.server
import os
import sys
import threading
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


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the file the path names under ``server.root`` when that is set, else ``server.payload`` at any path;
    with ``server.cut_at`` it announces the full length, sends that many bytes and drops the connection. Each GET's
    path is appended to ``server.requests``."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server = self.server  # the fixture's, with the attributes it sets
        server.requests.append(self.path)
        payload, cut_at = server.payload, server.cut_at
        if server.root is not None:
            path = server.root / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            payload = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload if cut_at is None else payload[:cut_at])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 at ``server.url``; set ``payload``, ``cut_at`` or ``root`` (see _Handler)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload, httpd.cut_at, httpd.root, httpd.requests = b"", None, None, []
    httpd.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def aomic_2mm(data_dir: Path) -> tuple:
    """The AOMIC head and its brain mask, RAS, every second voxel (2 mm, 128^3)."""
    folder = data_dir / "heads" / "AOMIC"
    if not folder.is_dir():
        pytest.skip(f"heads/AOMIC not found under {data_dir}")
    from BrainTumorAILib.core.image import Image, load_image, reorient

    head = reorient(load_image(folder / "AOMIC_T1w.nii.gz"), "RAS")
    brain = reorient(load_image(folder / "AOMIC_brainmask.nii.gz", label=True), "RAS")
    affine = head.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    return (Image(np.ascontiguousarray(head.array[::2, ::2, ::2]), affine),
            Image(np.ascontiguousarray(brain.array[::2, ::2, ::2] > 0).astype(np.uint8), affine))
