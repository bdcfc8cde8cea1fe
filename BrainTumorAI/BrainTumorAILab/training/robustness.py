"""How a segmenter holds up when a held-out BraTS case is made to look like a clinical study: every run predicts
each of its held-out cases as it is and under fixed, reproducible degradations of its images, and each map is
scored against the manual labels. Comparing runs that differ only in an augmentation says whether it pays.

Degradations (applied to the case's own images, before the pipeline, each alone):

- ``thick``: every sequence re-sampled as ``THICK_MM`` mm axial slices (slab means along the array axis nearest to
  superior, linearly interpolated back), as a 2D clinical series;
- ``misaligned``: every sequence but the reference turned ``MISALIGN_DEGREES`` about the left-right axis through
  the volume's centre and moved ``MISALIGN_MM`` towards superior, as series of one session left unregistered;
- ``bias``: a smooth multiplicative field (``BIAS_GAIN`` across the left-right extent, ``BIAS_CURVE`` at the
  superior and inferior ends) on every sequence, counted from its minimum so the background stays.

Usage::

    python -m BrainTumorAILab.training.robustness --out robustness.json \\
        --fold RUN_DIR CASE_DIR [CASE_DIR ...] [--fold RUN_DIR CASE_DIR ...] [--tta]

Prints a line per run and condition (mean Dice WT / TC / ET); the JSON holds them per case too. The run's
postprocessing (its config's) is used, as `segment --trained` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy import ndimage

from BrainTumorAILib.core.case import Case, load_case
from BrainTumorAILib.core.image import Image, resample_to
from BrainTumorAILib.core.labels import REGIONS, regions
from BrainTumorAILib.core.preprocess import dice
from BrainTumorAILib.tasks.segmentation.segment import segment_case
from .postprocess_search import truth_classes
from .trained import card_of_run

THICK_MM = 5.0
MISALIGN_DEGREES, MISALIGN_MM = 2.0, 2.0
BIAS_GAIN, BIAS_CURVE = 0.3, 0.15


def _axis_towards(image: Image, ras_axis: int) -> int:
    """The array axis whose direction is closest to RAS axis ``ras_axis`` (0 R, 1 A, 2 S)."""
    directions = image.affine[:3, :3] / np.linalg.norm(image.affine[:3, :3], axis=0)
    return int(np.argmax(np.abs(directions[ras_axis])))


def _slab_means(image: Image, thickness_mm: float) -> tuple[np.ndarray, int, int]:
    """Means of slabs of ``thickness_mm`` along ``image``'s superior axis, that axis moved first (slabs, ...), with
    the array axis and the slab's step in voxels; the last slab may be thinner."""
    axis = _axis_towards(image, 2)
    step = max(1, int(round(thickness_mm / image.spacing[axis])))
    array = np.moveaxis(image.array.astype(np.float32), axis, 0)
    starts = np.arange(0, array.shape[0], step)
    counts = np.diff(np.append(starts, array.shape[0])).astype(np.float32).reshape(-1, *([1] * (array.ndim - 1)))
    return np.add.reduceat(array, starts, axis=0) / counts, axis, step


def thick_slices(image: Image, thickness_mm: float = THICK_MM) -> Image:
    """``image`` as slabs of ``thickness_mm`` along its superior axis (slab means), linearly interpolated back to
    its own grid; the other axes and the grid are unchanged."""
    means, axis, step = _slab_means(image, thickness_mm)
    length, slabs = image.shape[axis], means.shape[0]
    position = np.clip((np.arange(length) - (step - 1) / 2) / step, 0, slabs - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, slabs - 1)
    weight = (position - below).reshape(-1, *([1] * (means.ndim - 1)))
    resampled = (means[below] * (1 - weight) + means[above] * weight).astype(np.float32)
    return image.with_array(np.moveaxis(resampled, 0, axis))


def thick_grid(image: Image, thickness_mm: float = THICK_MM) -> Image:
    """``image`` acquired as slabs of ``thickness_mm`` along its superior axis: the slab means on a grid whose voxels
    are that thick, centred on the slabs (a thick-slice clinical series of the same head)."""
    means, axis, step = _slab_means(image, thickness_mm)
    affine = image.affine.copy()
    affine[:3, 3] += affine[:3, axis] * (step - 1) / 2
    affine[:3, axis] *= step
    return Image(np.moveaxis(means, 0, axis), affine)


def misaligned(image: Image, degrees: float = MISALIGN_DEGREES, shift_mm: float = MISALIGN_MM) -> Image:
    """``image`` turned ``degrees`` about the RAS left-right axis through its centre and moved ``shift_mm``
    towards superior (world space), on its own grid; linear interpolation, the minimum outside."""
    angle = np.radians(degrees)
    move = np.eye(4)
    move[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    centre = image.affine @ np.append((np.array(image.shape) - 1) / 2, 1)
    to_centre, back = np.eye(4), np.eye(4)
    to_centre[:3, 3], back[:3, 3] = -centre[:3], centre[:3] + [0, 0, shift_mm]
    world = back @ move @ to_centre
    voxel = np.linalg.inv(image.affine) @ np.linalg.inv(world) @ image.affine  # output voxel -> source voxel
    array = image.array.astype(np.float32)
    moved = ndimage.affine_transform(array, voxel[:3, :3], voxel[:3, 3], order=1, cval=float(array.min()))
    return image.with_array(moved)


def bias_field(image: Image, gain: float = BIAS_GAIN, curve: float = BIAS_CURVE) -> Image:
    """``image`` times a smooth field: a ramp of +-``gain`` / 2 across its left-right extent and ``curve`` more
    at its superior and inferior ends, counted from the image's minimum so the background is unchanged."""
    grids = np.meshgrid(*[np.linspace(-1, 1, size, dtype=np.float32) for size in image.shape], indexing="ij")
    lateral, vertical = grids[_axis_towards(image, 0)], grids[_axis_towards(image, 2)]
    field = (1 + gain / 2 * lateral) * (1 + curve * vertical ** 2)
    array = image.array.astype(np.float32)
    floor = float(array.min())
    return image.with_array((floor + (array - floor) * field).astype(np.float32))


def degraded(case: Case, condition: str, reference: str) -> Case:
    """A copy of ``case`` under ``condition`` (``as_is``, ``thick``, ``misaligned``, ``bias``); the inputs are
    never changed."""
    change: dict[str, Callable[[Image], Image]] = {"thick": thick_slices, "bias": bias_field}
    if condition == "as_is":
        return case
    if condition == "misaligned":
        return Case({name: image if name == reference else misaligned(image) for name, image in case.images.items()},
                    case.name)
    return Case({name: change[condition](image) for name, image in case.images.items()}, case.name)


CONDITIONS = ("as_is", "thick", "misaligned", "bias")


def score_runs(folds: list[tuple[Path, list[Path]]], tta: bool = False,
               conditions: tuple[str, ...] = CONDITIONS) -> dict[str, Any]:
    """Per run and condition: Dice per region for each held-out case and their mean (``mean_dice`` over WT, TC and
    ET), the card's postprocessing applied."""
    result: dict[str, Any] = {}
    for run, case_dirs in folds:
        card = card_of_run(run)
        per_condition: dict[str, Any] = {condition: {"per_case": {}} for condition in conditions}
        for case_dir in case_dirs:
            case = load_case(case_dir)
            truth, truth_image = truth_classes(case_dir)
            true = regions(truth)
            for condition in conditions:
                prediction = segment_case(degraded(case, condition, case.reference_sequence(None)), card=card,
                                          device="cpu", tta=tta).classes
                if not prediction.same_grid(truth_image):
                    prediction = resample_to(prediction, truth_image, label=True)
                predicted = regions(prediction.array)
                per_condition[condition]["per_case"][case_dir.name] = {
                    region: round(dice(predicted[region], true[region]), 4) for region in REGIONS}
                print(f"{run.name} {case_dir.name} {condition}", file=sys.stderr)
        for summary in per_condition.values():
            rows = summary["per_case"].values()
            summary["mean"] = {region: round(float(np.mean([row[region] for row in rows])), 4) for region in REGIONS}
            summary["mean"]["mean_dice"] = round(float(np.mean(list(summary["mean"].values()))), 4)
        result[str(run)] = per_condition
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fold", nargs="+", action="append", required=True, metavar="RUN_DIR CASE_DIR",
                        help="a training run folder, then the case folders it held out")
    parser.add_argument("--tta", action="store_true", help="predict with flip test-time augmentation")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    arguments = parser.parse_args(argv)
    folds = [(Path(run), [Path(case) for case in cases]) for run, *cases in arguments.fold]
    result = {"tta": arguments.tta, "runs": score_runs(folds, arguments.tta, tuple(arguments.conditions)),
              "degradations": {"thick_mm": THICK_MM, "misalign_degrees": MISALIGN_DEGREES,
                               "misalign_mm": MISALIGN_MM, "bias_gain": BIAS_GAIN, "bias_curve": BIAS_CURVE}}
    arguments.out.write_text(json.dumps(result, indent=1))
    for run, per_condition in result["runs"].items():
        for condition, summary in per_condition.items():
            print(run, condition, json.dumps(summary["mean"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
