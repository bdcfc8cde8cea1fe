"""Rigid co-registration of a study's series onto the reference series (SimpleITK), before anything else.

Series of one session share the scanner's patient coordinates, so their affines already place them roughly; a
patient who moves between series, or a scanner that reconstructs each series on its own, leaves millimetres to
centimetres between them. Each moving series is registered to the reference with a rigid (Euler) transform:
Mattes mutual information (works across contrasts) on 3% of the voxels, two resolution levels, on a 2 mm grid
(thick slices and fine in-plane voxels alike). SimpleITK runs on one thread here: its multi-threaded filters and
metric gave transforms that differed between two runs of the same study (1e-5 rad), one thread gives the same
transform every time.

Mode ``auto`` skips a series that already lines up: on the reference's grid (same shape and affine) with head
masks or non-background masks that agree (Dice at least ``ALIGNED_DICE``; skull-stripped BraTS series agree at
0.99). ``always`` registers every series, ``never`` none (the affines are trusted). A registration whose result
fails the check (head masks after registration agree less than ``ACCEPT_DICE``, or a move larger than a head
turns between two series) raises ``InputError`` naming the series.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any, Iterator

import numpy as np

from .case import Case
from .errors import InputError
from .image import Image, resample_to
from .itk_io import image_to_sitk
from .preprocess import dice, foreground_mask, head_mask

MODES = ("auto", "always", "never")
ALIGNED_DICE = 0.95  # head masks on one grid at least this alike: the series line up
ACCEPT_DICE = 0.80   # head masks after registration at least this alike, or the registration failed
MAX_ROTATION_DEG = 20.0
MAX_TRANSLATION_MM = 40.0
SAMPLING = 0.03
WORKING_SPACING_MM = 2.0  # thick clinical slices and fine in-plane voxels alike are registered on this grid
_SHRINK, _SMOOTH_MM = (2, 1), (2.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Registration:
    """How one series came onto the reference grid: ``action`` "reference", "skipped" (already aligned),
    "affine" (``never``: resampled through the affines) or "registered" (rigid, ``transform``)."""

    sequence: str
    action: str
    head_dice_before: float | None = None
    head_dice_after: float | None = None
    metric: float | None = None
    rotation_deg: float | None = None
    translation_mm: float | None = None
    transform: list[float] | None = None
    moving_to_reference_ras: list[list[float]] | None = None  # 4x4: a moving-series RAS point to the reference's
    seconds: float = 0.0
    verdict: str = "ok"

    def record(self) -> dict[str, Any]:
        """A JSON-ready record for report.json."""
        return {key: (round(value, 4) if isinstance(value, float) else value)
                for key, value in dataclasses.asdict(self).items() if value is not None}


def co_register(case: Case, reference: str, mode: str = "auto") -> tuple[Case, list[Registration]]:
    """Every series of ``case`` on the ``reference`` series' grid, rigidly registered where needed.

    Returns the case with all images on the reference grid (float32 for resampled series) and one Registration
    per series. Raises InputError for an unknown mode or a registration that fails its check.
    """
    if mode not in MODES:
        raise InputError(f"Unknown registration mode '{mode}' (choose {', '.join(MODES)})")
    fixed = case.images[reference]
    fixed_head = head_mask(fixed.array)
    images: dict[str, Image] = {}
    records: list[Registration] = []
    for sequence, moving in case.images.items():
        if sequence == reference:
            images[sequence] = moving
            records.append(Registration(sequence, "reference"))
            continue
        started = time.perf_counter()
        on_grid = resample_to(moving, fixed)
        before = dice(head_mask(on_grid.array), fixed_head)
        if mode == "never" or (mode == "auto" and moving.same_grid(fixed) and _line_up(on_grid, fixed, before)):
            images[sequence] = on_grid
            records.append(Registration(sequence, "affine" if mode == "never" else "skipped", before,
                                        seconds=time.perf_counter() - started))
            continue
        with _one_thread():
            registered, record = _register(sequence, moving, fixed, fixed_head)
        images[sequence] = registered
        records.append(dataclasses.replace(record, head_dice_before=before, seconds=time.perf_counter() - started))
    return Case(images, case.name), records


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """SimpleITK's default thread count set to 1 for the block, then restored."""
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


def _line_up(moving: Image, fixed: Image, head_dice: float) -> bool:
    """Whether two series on one grid line up: their head masks or their non-background masks (the brain of
    skull-stripped series) agree at ``ALIGNED_DICE``. Head masks alone depend on the contrast (dark CSF)."""
    return head_dice >= ALIGNED_DICE or \
        dice(foreground_mask(moving.array), foreground_mask(fixed.array)) >= ALIGNED_DICE


def moving_to_reference_ras(euler) -> list[list[float]]:
    """The 4x4 RAS matrix taking a point of the moving series to the reference, from the SimpleITK transform that
    maps reference points to moving points in LPS (the resampling direction): p_m = R (p_f - c) + c + t."""
    rotation = np.array(euler.GetMatrix(), dtype=np.float64).reshape(3, 3)
    centre, shift = np.array(euler.GetCenter()), np.array(euler.GetTranslation())
    fixed_to_moving = np.eye(4)
    fixed_to_moving[:3, :3] = rotation
    fixed_to_moving[:3, 3] = centre + shift - rotation @ centre
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])  # LPS <-> RAS
    return np.round(np.linalg.inv(flip @ fixed_to_moving @ flip), 6).tolist()


def _register(sequence: str, moving: Image, fixed: Image, fixed_head: np.ndarray) -> tuple[Image, Registration]:
    """Rigid registration of ``moving`` onto ``fixed``; -> (moving resampled on fixed's grid, its record)."""
    import SimpleITK as sitk

    fixed_itk = sitk.Cast(image_to_sitk(fixed), sitk.sitkFloat32)
    moving_itk = sitk.Cast(image_to_sitk(moving), sitk.sitkFloat32)
    fixed_working, moving_working = _isotropic(fixed_itk), _isotropic(moving_itk)
    # the scanner's coordinates are the starting point (identity), rotating about the head's centre
    initial = sitk.Euler3DTransform()
    centre = fixed.affine @ np.append(np.argwhere(fixed_head).mean(axis=0), 1.0)
    initial.SetCenter([float(-centre[0]), float(-centre[1]), float(centre[2])])  # RAS -> LPS
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(SAMPLING, seed=7)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-2, numberOfIterations=100,
                                                    gradientMagnitudeTolerance=1e-6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(_SHRINK))
    method.SetSmoothingSigmasPerLevel(list(_SMOOTH_MM))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    transform = method.Execute(fixed_working, moving_working)
    metric = float(method.GetMetricValue())
    resampled = sitk.Resample(moving_itk, fixed_itk, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(resampled).transpose(2, 1, 0)
    registered = fixed.with_array(np.ascontiguousarray(array, dtype=np.float32))
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(transform).GetNthTransform(0))
    rotation = math.degrees(max(abs(angle) for angle in (euler.GetAngleX(), euler.GetAngleY(), euler.GetAngleZ())))
    translation = float(np.linalg.norm(euler.GetTranslation()))
    after = dice(head_mask(registered.array), fixed_head)
    record = Registration(sequence, "registered", head_dice_after=after, metric=metric, rotation_deg=rotation,
                          translation_mm=translation, transform=[float(p) for p in euler.GetParameters()],
                          moving_to_reference_ras=moving_to_reference_ras(euler))
    problems = []
    if after < ACCEPT_DICE:
        problems.append(f"its head overlaps the reference's at Dice {after:.2f} < {ACCEPT_DICE}")
    if rotation > MAX_ROTATION_DEG or translation > MAX_TRANSLATION_MM:
        problems.append(f"it moved {rotation:.1f} degrees and {translation:.1f} mm (at most {MAX_ROTATION_DEG:g} "
                        f"degrees and {MAX_TRANSLATION_MM:g} mm between series of one study)")
    if problems:
        raise InputError(f"Registration of {sequence} ({moving.name}) onto the reference ({fixed.name}) failed: "
                         f"{'; '.join(problems)}. Check the series, or run with --register never to trust the "
                         "affines")
    return registered, record


def _isotropic(image):
    """A SimpleITK image resampled (linear) to ``WORKING_SPACING_MM`` voxels over the same field of view."""
    import SimpleITK as sitk

    size = [max(1, int(round(n * s / WORKING_SPACING_MM))) for n, s in zip(image.GetSize(), image.GetSpacing())]
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(),
                         (WORKING_SPACING_MM,) * 3, image.GetDirection(), 0.0, sitk.sitkFloat32)
