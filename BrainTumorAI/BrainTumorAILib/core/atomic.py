"""Write files under a temporary name and rename them only when complete, so no partial output is ever left."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that keeps its suffixes; rename it to ``path`` on success.

    The temporary name keeps the full suffix (``.nii.gz``, ``.seg.nrrd``) because writers choose the format by it.
    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes[-2:]) if len(target.suffixes) >= 2 else target.suffix
    stem = target.name[: len(target.name) - len(suffix)] if suffix else target.name
    temporary = target.with_name(f".{stem}.{uuid.uuid4().hex[:8]}.partial{suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text``, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
