"""Training images cut from 3D studies, rendered exactly as a study's slices are classified (``volume.py``).

The 2D training set has no skull-stripped brain and no slice rendered from a 3D volume, and on such slices the
network called most gliomas meningioma and healthy heads a tumour. This writes labelled 3D studies out as 2D images
in the training layout (``OUT/<class>/<name>.png``), so a training config can add them (``extra_data``):

- labelled tumour cases (BraTS folders, ``training.datasets``): ``glioma`` slices through the labelled tumour in each
  view (every ``TUMOUR_STEP_MM`` mm up to ``TUMOUR_REACH_MM`` from its centre of mass, inside its extent, each with
  at least ``MIN_TUMOUR_AREA_MM2`` of tumour), and ``notumor`` slices at the classifier's 27 head positions whose
  slab of +-``CLEAR_MM`` holds no tumour voxel;
- healthy heads (``*_T1w`` with ``*_brainmask``): ``notumor`` slices every ``HEAD_STEP_MM`` mm up to
  ``HEAD_REACH_MM`` from the head's middle, of the whole head and of the brain alone.

Usage: ``python -m BrainTumorAILab.classification.study_slices --out DIR [--tumour-cases DIR ...] [--heads DIR ...]
[--size 160] [--sigma 0.5]``; prints the counts per class and source as JSON (also written to ``OUT/manifest.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image as PILImage

from BrainTumorAILib.core.atomic import write_json
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, load_image
from BrainTumorAILib.tasks.classification.volume import (VIEWS, extent, framed_volume, preferred_sequence,
                                                         slice_positions, slices_at)
from ..training.datasets import discover

TUMOUR_STEP_MM, TUMOUR_REACH_MM = 3, 12
MIN_TUMOUR_AREA_MM2 = 100.0
CLEAR_MM = 5.0
HEAD_STEP_MM, HEAD_REACH_MM = 5, 30


def _write(images: np.ndarray, where: list[dict[str, Any]], folder: Path, stem: str) -> int:
    """Save (N, S, S) [0, 1] slices as 8-bit PNGs ``folder/<stem>__<view>_<offset>.png``; return N."""
    folder.mkdir(parents=True, exist_ok=True)
    for image, place in zip(images, where):
        name = f"{stem}__{place['view']}_{place['offset_mm']:+d}mm.png"
        PILImage.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / name)
    return len(images)


def tumour_positions(tumour: np.ndarray, spacing: Sequence[float]) -> dict[str, list[tuple[int, int]]]:
    """{view: [(offset_mm, index)]} through a cropped (I, J, K) tumour mask: every TUMOUR_STEP_MM mm around its
    centre of mass, inside its extent, each slice with at least MIN_TUMOUR_AREA_MM2 of tumour, no index twice."""
    centre = np.argwhere(tumour).mean(axis=0)
    positions: dict[str, list[tuple[int, int]]] = {}
    for view, axis in VIEWS.items():
        low, high = extent(tumour, axis)
        pixel_mm2 = float(np.prod([spacing[a] for a in range(3) if a != axis]))
        area = tumour.sum(axis=tuple(a for a in range(3) if a != axis)) * pixel_mm2
        chosen: dict[int, int] = {}
        for offset in range(-TUMOUR_REACH_MM, TUMOUR_REACH_MM + 1, TUMOUR_STEP_MM):
            index = int(round(centre[axis] + offset / spacing[axis]))
            if low <= index <= high and area[index] >= MIN_TUMOUR_AREA_MM2:
                chosen.setdefault(index, offset)
        positions[view] = [(offset, index) for index, offset in chosen.items()]
    return positions


def _distinct(places: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offset_mm, index) places with each index once (its first offset): clamped offsets repeat an index."""
    chosen: dict[int, int] = {}
    for offset, index in places:
        chosen.setdefault(index, offset)
    return [(offset, index) for index, offset in chosen.items()]


def clear_positions(head: np.ndarray, tumour: np.ndarray, spacing: Sequence[float]
                    ) -> dict[str, list[tuple[int, int]]]:
    """{view: [(offset_mm, index)]}: the classifier's 27 head positions whose slab of +-CLEAR_MM holds no tumour."""
    positions: dict[str, list[tuple[int, int]]] = {}
    for view, axis in VIEWS.items():
        present = tumour.any(axis=tuple(a for a in range(3) if a != axis))
        reach = int(round(CLEAR_MM / spacing[axis]))
        places = slice_positions(*extent(head, axis), spacing[axis])
        positions[view] = [(offset, index) for offset, index in _distinct(places)
                           if not present[max(index - reach, 0):index + reach + 1].any()]
    return positions


def head_positions(head: np.ndarray, spacing: Sequence[float]) -> dict[str, list[tuple[int, int]]]:
    """{view: [(offset_mm, index)]} every HEAD_STEP_MM mm up to HEAD_REACH_MM from the head's middle."""
    offsets = tuple(range(-HEAD_REACH_MM, HEAD_REACH_MM + 1, HEAD_STEP_MM))
    return {view: _distinct(slice_positions(*extent(head, axis), spacing[axis], offsets=offsets))
            for view, axis in VIEWS.items()}


def load_head(folder: Path) -> tuple[Image, Image]:
    """A healthy head folder's T1w image and its brain mask on the same grid (InputError naming what is missing)."""
    files = {kind: sorted(folder.glob(f"*_{kind}.nii*")) for kind in ("T1w", "brainmask")}
    if not all(files.values()):
        raise InputError(f"A head folder needs *_T1w and *_brainmask images: {folder}")
    image = load_image(files["T1w"][0])
    brain = load_image(files["brainmask"][0], label=True)
    if not brain.same_grid(image):
        raise InputError(f"{brain.path} is not on the grid of {image.path}")
    return image, brain


def export_tumour_cases(roots: Sequence[str | Path], out: Path, size: int, sigma: float) -> dict[str, dict[str, int]]:
    """Glioma and tumour-free slices of every labelled case under ``roots``; {case: {class: images}}."""
    counts = {}
    for root in roots:
        for case in discover(root):
            sequence = preferred_sequence(case.images, case.name)
            images, classes = case.load([sequence])
            image = images[sequence]
            framed = framed_volume(image)
            tumour = framed.on_crop(classes > 0, image)
            if not tumour.any():
                raise InputError(f"Labelled case {case.name} has no tumour inside its head: {case.labels}")
            spacing = framed.ras.spacing
            glioma = _write(*slices_at(framed, tumour_positions(tumour, spacing), size, sigma), out / "glioma",
                            f"{case.name}_{sequence}")
            clear = clear_positions(framed.head, tumour, spacing)
            healthy = _write(*slices_at(framed, clear, size, sigma), out / "notumor",
                             f"{case.name}_{sequence}") if any(clear.values()) else 0
            counts[case.name] = {"glioma": glioma, "notumor": healthy}
    return counts


def export_heads(folders: Sequence[str | Path], out: Path, size: int, sigma: float) -> dict[str, dict[str, int]]:
    """Notumor slices of each healthy head, whole and brain only; {head: {class: images}}."""
    counts = {}
    for folder in map(Path, folders):
        image, brain = load_head(folder)
        total = 0
        for suffix, version in (("whole", image), ("brain", image.with_array(
                np.where(brain.array > 0, image.array, 0).astype(np.float32)))):
            framed = framed_volume(version)
            total += _write(*slices_at(framed, head_positions(framed.head, framed.ras.spacing), size, sigma),
                            out / "notumor", f"{folder.name}_t1_{suffix}")
        counts[folder.name] = {"notumor": total}
    return counts


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.classification.study_slices",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per class)")
    parser.add_argument("--tumour-cases", nargs="*", default=[], help="folders of labelled glioma cases")
    parser.add_argument("--heads", nargs="*", default=[], help="healthy head folders (*_T1w, *_brainmask)")
    parser.add_argument("--size", type=int, default=160, help="image side in pixels (the classifier's)")
    parser.add_argument("--sigma", type=float, default=0.5, help="Gaussian filter of the rendering (the card's)")
    arguments = parser.parse_args(argv)
    out = Path(arguments.out)
    manifest = {"command": " ".join(["python -m BrainTumorAILab.classification.study_slices", *argv]),
                "tumour_cases": export_tumour_cases(arguments.tumour_cases, out, arguments.size, arguments.sigma),
                "heads": export_heads(arguments.heads, out, arguments.size, arguments.sigma)}
    write_json(manifest, out / "manifest.json")
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
