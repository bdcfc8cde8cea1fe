"""The one data path from a case to results: co-register -> strip skull -> segment -> classify.

The Slicer Logic, the batch script and the ``braintumorai run`` / ``batch`` commands all call ``run_pipeline``.
Every step works on the reference input's grid (t1c when present, else flair), so every output overlays it voxel
for voxel. The steps run in that order whatever order ``PipelineOptions.steps`` names them in: the classifier
reads its slices through the segmented tumour when the segmentation ran.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from . import __version__
from .core.case import Case
from .core.errors import BrainTumorAIError, Cancelled
from .core.image import Image
from .core.registration import MODES as REGISTRATION_MODES, co_register

STEPS = ("strip", "classify", "segment")
Progress = Callable[[float, str], None]
# share of the whole run each step takes, for one progress bar from 0 to 100
_STEP_SPANS = {"strip": (2.0, 22.0), "segment": (22.0, 88.0), "classify": (88.0, 98.0)}


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """What to run and with which models; None model ids mean each task's default in models.json."""

    steps: tuple[str, ...] = STEPS
    strip_method: str = "learned"
    strip_model: str | None = None
    classify_model: str | None = None
    segment_model: str | None = None
    labels: str = "brats2021"
    tta: bool | None = None  # flip TTA; None: the segmentation card's inference.flip_tta
    reference: str | None = None
    device: str = "auto"
    register: str = "auto"

    def __post_init__(self) -> None:
        unknown = [step for step in self.steps if step not in STEPS]
        if unknown or not self.steps:
            raise BrainTumorAIError(f"Unknown pipeline step(s) {unknown} (choose from {', '.join(STEPS)})")
        if self.register not in REGISTRATION_MODES:
            raise BrainTumorAIError(f"Unknown registration mode '{self.register}' (choose "
                                    f"{', '.join(REGISTRATION_MODES)})")


@dataclasses.dataclass
class PipelineResult:
    """Everything a run produced, on the reference grid. ``segmentation`` is a segmentation.SegmentationResult."""

    case_name: str
    reference: str
    reference_image: Image
    inputs: dict[str, str | None]
    brain_mask: Image | None = None
    stripped: Image | None = None
    classification: dict[str, Any] | None = None
    classification_slices: np.ndarray | None = None  # (N, S, S) slices the classifier saw, in vote order
    segmentation: Any = None
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    models: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    options: PipelineOptions = dataclasses.field(default_factory=PipelineOptions)
    registration: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary: class and shares, region volumes in mL, models, time per step."""
        grid = self.reference_image
        segmentation = self.segmentation
        brain_ml = None
        if self.brain_mask is not None:
            brain_ml = float(np.count_nonzero(self.brain_mask.array) * np.prod(grid.spacing) / 1000.0)
        return {
            "case": self.case_name,
            "software": {"name": "BrainTumorAI", "version": __version__},
            "intended_use": "Research only. Not for clinical diagnosis or treatment decisions.",
            "reference": self.reference,
            "inputs": self.inputs,
            "grid": {"shape": list(grid.shape), "spacing_mm": [round(s, 4) for s in grid.spacing],
                     "orientation": grid.orientation},
            "steps": list(self.options.steps),
            "brain_volume_ml": None if brain_ml is None else round(brain_ml, 2),
            "classification": self.classification,
            "label_convention": self.options.labels if segmentation is not None else None,
            "volumes_ml": None if segmentation is None else {k: round(float(v), 3)
                                                              for k, v in segmentation.volumes_ml.items()},
            "models": self.models,
            "registration": self.registration,
            "warnings": self.warnings,
            "timings_s": {step: round(seconds, 3) for step, seconds in self.timings_s.items()},
        }


def run_pipeline(case: Case, options: PipelineOptions = PipelineOptions(), progress: Progress | None = None,
                 cancel: Callable[[], bool] | None = None) -> PipelineResult:
    """Run the chosen steps on ``case``; ``progress(percent, step)`` is called as work advances.

    ``cancel()`` is polled between steps (and by the segmentation's windows through its progress callback);
    when it returns True the run stops with ``Cancelled`` and nothing is returned.
    """
    report = progress or (lambda percent, step: None)

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise Cancelled(f"Run of case '{case.name}' was cancelled")

    started = time.perf_counter()
    report(0.0, "co-register")
    reference = case.reference_sequence(options.reference)
    harmonised, registrations = co_register(case, reference, options.register)
    reference_image = harmonised.images[reference]
    result = PipelineResult(
        case_name=case.name, reference=reference, reference_image=reference_image, options=options,
        inputs={sequence: str(image.path) if image.path else None for sequence, image in case.images.items()},
        registration=[record.record() for record in registrations],
    )
    result.timings_s["co_register"] = time.perf_counter() - started
    working = harmonised

    if "strip" in options.steps:
        check_cancel()
        report(_STEP_SPANS["strip"][0], "strip")
        working = _strip(harmonised, reference, options, result)
    if "segment" in options.steps:
        check_cancel()
        _segment(working, reference, options, result, report, check_cancel)
    if "classify" in options.steps:
        check_cancel()
        report(_STEP_SPANS["classify"][0], "classify")
        _classify(harmonised, options, result)
    result.timings_s["total"] = time.perf_counter() - started
    report(100.0, "done")
    return result


def _strip(case: Case, reference: str, options: PipelineOptions, result: PipelineResult) -> Case:
    """Strip the reference sequence's skull; return the case with every sequence zeroed outside the brain."""
    from .tasks.stripping import strip_skull

    started = time.perf_counter()
    stripped = strip_skull(case.images[reference], modality=reference, method=options.strip_method,
                           model_id=options.strip_model, device=options.device)
    result.brain_mask, result.stripped = stripped.mask, stripped.brain
    result.warnings.extend(f"skull stripping: {warning}" for warning in stripped.warnings)
    card = stripped.card  # None when the classical method made the mask, asked for or as the fallback
    result.models["skull_stripping"] = ({"id": card.id, "version": card.version} if card is not None
                                        else {"id": "classical", "version": __version__})
    inside = stripped.mask.array > 0
    masked = {sequence: image.with_array(np.where(inside, image.array, 0).astype(np.float32))
              for sequence, image in case.images.items()}
    result.timings_s["strip"] = time.perf_counter() - started
    return Case(masked, case.name)


def _classify(case: Case, options: PipelineOptions, result: PipelineResult) -> None:
    """Classify the tumour type, through the segmented tumour when the segmentation ran (its reference grid)."""
    from .tasks.classification import classify_case

    started = time.perf_counter()
    tumour = result.segmentation.classes if result.segmentation is not None else None
    result.classification = classify_case(case, model_id=options.classify_model, device=options.device,
                                          tumour=tumour, with_slices=True)
    result.classification_slices = result.classification.pop("slice_images")
    result.warnings.extend(f"classification: {warning}" for warning in result.classification["warnings"])
    model = result.classification.get("model")
    if isinstance(model, dict):
        result.models["classification"] = {"id": str(model.get("id")), "version": str(model.get("version"))}
    result.timings_s["classify"] = time.perf_counter() - started


def _segment(case: Case, reference: str, options: PipelineOptions, result: PipelineResult, report: Progress,
             check_cancel: Callable[[], None]) -> None:
    from .tasks.segmentation import segment_case

    low, high = _STEP_SPANS["segment"]

    def segment_progress(fraction: float, message: str) -> None:
        check_cancel()
        report(low + (high - low) * min(max(fraction, 0.0), 1.0), f"segment: {message}" if message else "segment")

    started = time.perf_counter()
    segment_progress(0.0, "")
    segmentation = segment_case(case, model_id=options.segment_model, labels=options.labels, tta=options.tta,
                                reference=reference, device=options.device, progress=segment_progress)
    result.segmentation = segmentation
    result.warnings.extend(f"segmentation: {warning}" for warning in segmentation.warnings)
    result.models["segmentation"] = {"id": segmentation.card.id, "version": segmentation.card.version}
    result.timings_s["segment"] = time.perf_counter() - started
