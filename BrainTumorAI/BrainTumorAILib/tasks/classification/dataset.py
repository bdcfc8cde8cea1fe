"""The 4-class 2D tumour dataset: class names, folder layouts, and reading any image into one normalised form.

Classes are always ``CLASSES`` in this order (the network's output order). Folders may use either naming scheme of
the public dataset (``glioma`` / ``glioma_tumor``, ``notumor`` / ``no_tumor`` ...). An image of any size, 8- or
16-bit, grayscale or RGB(A), jpg or png, becomes a float32 array (S, S) in [0, 1]: grayscale, resized, min-max scaled.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from ...core.errors import InputError
from .standardise import frame_head

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MIN_SIDE = 16
_ALIASES = {
    "glioma": "glioma", "glioma_tumor": "glioma", "glioma_tumour": "glioma",
    "meningioma": "meningioma", "meningioma_tumor": "meningioma", "meningioma_tumour": "meningioma",
    "notumor": "notumor", "no_tumor": "notumor", "no_tumour": "notumor", "notumour": "notumor", "healthy": "notumor",
    "pituitary": "pituitary", "pituitary_tumor": "pituitary", "pituitary_tumour": "pituitary",
}


def class_of_folder(name: str) -> str | None:
    """The class a folder name stands for in either naming scheme (case-insensitive), or None."""
    return _ALIASES.get(name.strip().lower().replace("-", "_").replace(" ", "_"))


@dataclasses.dataclass(frozen=True)
class Sample:
    """One labelled image file; ``label`` indexes ``CLASSES``."""

    path: Path
    label: int


def find_samples(root: str | os.PathLike) -> list[Sample]:
    """Every image under ``root/<class folder>/`` (walked recursively), sorted by path for reproducibility."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"Dataset folder not found: {root}")
    samples = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        label = class_of_folder(folder.name)
        if label is not None:
            samples.extend(Sample(path, CLASSES.index(label)) for path in image_files([folder]))
    if not samples:
        raise InputError(f"No class folders ({', '.join(CLASSES)} or *_tumor) with images under {root}")
    return samples


def image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """The given files, and the image files found by walking the given folders (sorted), in order."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] as float32 (a constant image becomes zeros)."""
    array = array.astype(np.float32)
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def read_image(path: str | os.PathLike, size: int, frame: bool = False) -> np.ndarray:
    """Read one 2D image as float32 (size, size) in [0, 1]; raise InputError naming the file when it is unusable.

    16-bit images keep their full depth (no 8-bit truncation); colour is averaged to gray; the resize is antialiased.
    ``frame``: crop to the head and pad to a square first (``standardise.frame_head``).
    """

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image not found: {path}")
    try:
        with PILImage.open(path) as handle:
            handle.load()
            image = handle
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                array = np.asarray(image, dtype=np.float32)
            else:
                array = np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise InputError(f"Cannot read image ({error}): {path}") from error
    if array.ndim != 2:
        raise InputError(f"Image is not 2D (shape {array.shape}): {path}")
    if min(array.shape) < MIN_SIDE:
        raise InputError(f"Image too small to classify ({array.shape[1]}x{array.shape[0]} pixels, the minimum side "
                         f"is {MIN_SIDE}): {path}")
    array = to_unit_range(array)
    return resize(frame_head(array) if frame else array, size)


def resize(array: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize of a [0, 1] float image (H, W) to (size, size)."""
    if array.shape == (size, size):
        return array.astype(np.float32)
    image = PILImage.fromarray(array.astype(np.float32), mode="F")
    return np.asarray(image.resize((size, size), PILImage.Resampling.BILINEAR, reducing_gap=None), dtype=np.float32)


def load_arrays(samples: list[Sample], size: int, progress: bool = True, frame: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    """All samples as (N, size, size) float32 images in [0, 1] (``frame``: cropped to the head) and (N,) labels."""
    from tqdm import tqdm

    images = np.stack([read_image(sample.path, size, frame)
                       for sample in tqdm(samples, desc=f"Reading images at {size}px", disable=not progress)])
    return images, np.array([sample.label for sample in samples], dtype=np.int64)
