"""Sample cases described by data (``Resources/samples.json``): their files, URLs and sha256, and their download.

The standard library only, so the Slicer module can register the samples with its Sample Data module at startup,
before the pinned dependencies are installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from .download import download, sha256_of
from .errors import InputError
from .registry import RESOURCES_DIR

SAMPLES_PATH = RESOURCES_DIR / "samples.json"


@dataclasses.dataclass(frozen=True)
class SampleFile:
    """One image of a sample: its sequence (flair, t1, t1c, t2), file name, download URL and sha256."""

    sequence: str
    file: str
    url: str
    sha256: str

    def url_at(self, base_url: str | None = None) -> str:
        """The file's URL, or its file name under ``base_url`` (a mirror) when one is given."""
        return f"{base_url.rstrip('/')}/{self.file}" if base_url else self.url


@dataclasses.dataclass(frozen=True)
class Sample:
    """One sample case: a folder of images that ``braintumorai run --case`` reads."""

    name: str
    title: str
    description: str
    source: str
    terms: str
    files: tuple[SampleFile, ...]


def load_samples(path: str | os.PathLike = SAMPLES_PATH) -> dict[str, Sample]:
    """The samples of ``samples.json`` by name, in the file's order."""
    entries = json.loads(Path(path).read_text())["samples"]
    return {entry["name"]: Sample(**{**entry, "files": tuple(SampleFile(**file) for file in entry["files"])})
            for entry in entries}


def get_sample(name: str) -> Sample:
    """The sample called ``name``; InputError listing the known ones otherwise."""
    samples = load_samples()
    if name not in samples:
        raise InputError(f"Unknown sample '{name}' (known: {', '.join(samples)})")
    return samples[name]


def fetch_sample(name: str, out_dir: str | os.PathLike, *, base_url: str | None = None, progress: bool = True,
                 timeout: float = 30.0) -> Path:
    """Download the files of sample ``name`` into ``out_dir/<name>/`` and return that folder.

    Each file is checked against its sha256 and written under a temporary name first; a file already there with
    the right sha256 is kept. ``base_url`` (a mirror, ``http(s)://`` or ``file://``) replaces each URL up to the
    file name. A failed or rejected download raises DownloadError naming the file and URL and leaves no unverified
    file; files verified before it stay, so a second run fetches only the rest.
    """
    sample = get_sample(name)
    folder = Path(out_dir) / sample.name
    try:
        for file in sample.files:
            path = folder / file.file
            if not (path.is_file() and sha256_of(path) == file.sha256):
                download(file.url_at(base_url), path, expected_sha256=file.sha256, progress=progress,
                         timeout=timeout, what=f"sample file {file.file}")
    finally:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return folder
