"""Segment a case's tumour with a registry model: harmonise -> network input -> sliding windows -> reference grid.

The result lives on the grid of the reference input (``reference``, default t1c when present, else flair), voxel for
voxel: the brain box, RAS reorientation and any resampling of ``inputs.network_input`` are undone exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from ...core.bias import correct_bias
from ...core.case import Case, harmonise
from ...core.contrasts import check_contrasts
from ...core.device import select_device
from ...core.image import Image
from ...core.labels import to_convention
from ...core.preprocess import foreground_mask
from ...core.registry import ModelCard, Registry
from ...core.weights import load_model
from ...inference.windows import WindowSettings
from . import inference
from .fluid import fluid_mask
from .inputs import network_input, required_inputs
from .metrics import volumes_ml
from .plausibility import check_core_in_fluid, check_segmentation
from .postprocess import PostprocessOptions, clear_fluid, postprocess

# share of the progress bar of each stage: model, preprocessing, windows, back to the grid and postprocessing
_WINDOWS_SPAN = (0.1, 0.9)


@dataclasses.dataclass(frozen=True)
class SegmentationResult:
    """Tumour classes and labels on the reference grid, region volumes in mL, and the TTA uncertainty.

    ``classes``: uint8 class map 0 bg / 1 NCR / 2 ED / 3 ET; ``labels``: the same in ``convention``;
    ``uncertainty``: float32 std of the tumour probability over the flips (only with TTA); ``warnings``: the failed
    plausibility checks (plausibility.py) as sentences, empty when the map passed.
    """

    classes: Image
    labels: Image
    volumes_ml: dict[str, float]
    uncertainty: Image | None
    card: ModelCard
    reference: str
    convention: str
    warnings: list[str] = dataclasses.field(default_factory=list)


def segment_case(case: Case, *, model_id: str | None = None, labels: str = "brats2021", tta: bool | None = None,
                 reference: str | None = None, device: str = "auto", progress: inference.Progress | None = None,
                 overlap: float | None = None, sw_batch_size: int | None = None,
                 postprocessing: Mapping[str, Any] | None = None, card: ModelCard | None = None
                 ) -> SegmentationResult:
    """Segment ``case`` with ``model_id`` (default: the registry's default segmentation model), or with ``card``
    when given (a model outside the registry, such as a training run's).

    ``tta`` (flip averaging, with an uncertainty map) defaults to the card's ``inference.flip_tta``;
    ``overlap`` and ``sw_batch_size`` override the card's sliding-window settings; ``postprocessing`` entries
    override the card's ``inference.postprocessing`` (postprocess.PostprocessOptions fields). Raises InputError when
    a sequence the model needs is missing or two read as swapped (``contrasts.check_contrasts``) and ModelError when
    the weights do not fit the model; writes nothing.
    """
    report = progress or (lambda fraction, message: None)
    to_convention(np.zeros(1, dtype=np.uint8), labels)  # an unknown convention fails before any work
    card = card or Registry.load().resolve("segmentation", model_id)
    case.require(required_inputs(card), f"segmentation model '{card.id}'")
    reference = case.reference_sequence(reference)
    used = [name for name in card.inputs if name in case.images]
    needed = Case({name: case.images[name] for name in {*used, reference}}, case.name)
    report(0.0, f"loading model {card.id}")
    torch_device = select_device(device)
    model = inference.prepare_model(load_model(card), torch_device, len(card.inputs), card.id)

    report(0.05, "preparing inputs")
    harmonised, reference = harmonise(needed, reference)
    check_contrasts(harmonised.images, case.images)
    bias_correction = str(card.preprocessing.get("bias_correction", "none"))
    array, grid = network_input(correct_bias(harmonised.images, bias_correction), card)
    settings = WindowSettings.from_card(card, overlap=overlap, sw_batch_size=sw_batch_size)
    if tta is None:
        tta = bool(card.inference.get("flip_tta", False))
    low, high = _WINDOWS_SPAN
    prediction = inference.predict(
        model, array, card.outputs, settings, device=torch_device, tta=tta,
        progress=lambda fraction, message: report(low + (high - low) * fraction, message))

    report(high, "postprocessing")
    reference_image = harmonised.images[reference]
    options = PostprocessOptions.from_card({**card.inference.get("postprocessing", {}), **(postprocessing or {})})
    brain = foreground_mask(reference_image.array)
    fluid = fluid_mask({name: image.array for name, image in harmonised.images.items()}, brain)
    painted = postprocess(grid.classes_to_reference(prediction.probabilities, card.outputs), reference_image.spacing,
                          dataclasses.replace(options, fluid_veto=False))
    vetoed = options.fluid_veto and fluid is not None
    classes = clear_fluid(painted, fluid) if vetoed else painted
    uncertainty = None
    if prediction.spread is not None:
        uncertainty = Image(grid.to_reference(prediction.spread[None])[0].astype(np.float32), reference_image.affine)
    report(1.0, "done")
    return SegmentationResult(
        classes=Image(classes, reference_image.affine),
        labels=Image(to_convention(classes, labels), reference_image.affine),
        volumes_ml=volumes_ml(classes, reference_image.spacing),
        uncertainty=uncertainty, card=card, reference=reference, convention=labels,
        warnings=check_segmentation(classes, reference_image.spacing, brain) + (
            [] if fluid is None else check_core_in_fluid(painted, reference_image.spacing, fluid, cleared=vetoed)),
    )
