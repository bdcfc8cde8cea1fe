"""Download a file whose sha256 is known: through a temporary name, kept only when complete and matching.

The standard library only (tqdm is imported when a download runs), so the Slicer module can read the sample
catalogue, which imports this, before its pinned dependencies are installed.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from .atomic import atomic_path
from .errors import DownloadError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, path: Path, *, expected_sha256: str, progress: bool = True, timeout: float = 30.0,
             what: str = "file") -> Path:
    """Download ``url`` to ``path`` through a temporary file; keep it only when complete and its sha256 matches.

    DownloadError names ``what`` and the URL when the server cannot be reached, the transfer breaks off or the
    bytes differ from ``expected_sha256``; ``path`` is then left as it was.
    """
    from tqdm import tqdm

    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(path) as temporary:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with open(temporary, "wb") as handle, tqdm(
                total=total, unit="B", unit_scale=True, desc=f"Downloading {what}", disable=not progress
            ) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise DownloadError(f"Download of {what} broke off after {received} of {total} bytes: {url}")
            if digest.hexdigest() != expected_sha256:
                raise DownloadError(
                    f"Download of {what} was rejected: sha256 {digest.hexdigest()} differs from the expected "
                    f"{expected_sha256}: {url}"
                )
    except OSError as error:  # URLError, timeouts and dropped connections are all OSErrors
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"Cannot download {what} from {url} ({reason}). Are you offline? Download it elsewhere and place it "
            f"at {path}."
        ) from error
    return path
