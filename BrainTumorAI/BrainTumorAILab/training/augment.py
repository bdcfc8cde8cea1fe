"""Patch sampling and augmentation for segmentation training, with MONAI dictionary transforms.

A sample is ``{"image": (C, I, J, K) float32, "label": (1, I, J, K) class map}`` on the network grid
(``tasks/segmentation/inputs.py``); the transform returns ``samples_per_case`` augmented patches of ``patch_size``.
``negatives`` says where background patches are centred: "anywhere" off the tumour (the empty margin of the grid
included), or "brain", only on voxels where some channel is non-zero (the z-scored brain), so that every negative
patch shows the network brain tissue to reject. ``class_ratios`` (one weight per class, background first) replaces
the pos:neg draw by a draw of the centre's class (MONAI's RandCropByLabelClassesd): rare classes such as the
necrotic core then centre as many patches as the oedema that dominates the tumour's volume.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from monai import transforms as mt

from .clinical import clinical_transforms

KEYS = ("image", "label")


def build_transform(augmentation: Mapping[str, Any], droppable: Sequence[int] = (),
                    inputs: Sequence[str] = ()) -> mt.Compose:
    """Pad to a patch, crop patches around tumour and background (pos:neg), flip, rotate + scale, the clinical
    transforms (``augmentation.clinical``: clinical.py; ``droppable`` channels may be dropped; ``inputs`` names the
    channels), noise, intensity."""
    patch = list(augmentation["patch_size"])
    radians = math.radians(float(augmentation["rotate_deg"]))
    scale = float(augmentation["scale"])
    in_brain = augmentation.get("negatives", "anywhere") == "brain"
    brain = [mt.Lambdad("image", func=lambda image: (image != 0).any(0, keepdims=True), overwrite="brain")]
    return mt.Compose([
        mt.SpatialPadd(KEYS, spatial_size=patch),
        *(brain if in_brain else []),
        _patch_crop(augmentation, patch, "brain" if in_brain else None),
        *([mt.DeleteItemsd("brain")] if in_brain else []),
        *(mt.RandFlipd(KEYS, prob=float(augmentation["flip_prob"]), spatial_axis=axis) for axis in range(3)),
        mt.RandAffined(KEYS, prob=float(augmentation["affine_prob"]), rotate_range=(radians,) * 3,
                       scale_range=(scale,) * 3, mode=("bilinear", "nearest"), padding_mode="zeros"),
        *clinical_transforms(augmentation.get("clinical"), droppable, inputs),
        mt.RandGaussianNoised("image", prob=float(augmentation["noise_prob"]), std=float(augmentation["noise_std"])),
        mt.RandShiftIntensityd("image", offsets=float(augmentation["shift"]),
                               prob=float(augmentation["intensity_prob"])),
        mt.RandScaleIntensityd("image", factors=float(augmentation["scale_intensity"]),
                               prob=float(augmentation["intensity_prob"])),
    ])


def _patch_crop(augmentation: Mapping[str, Any], patch: list[int], image_key: str | None) -> mt.Randomizable:
    """``samples_per_case`` patches centred by class (``class_ratios``) or on tumour : background (``pos``:``neg``);
    with ``image_key``, background centres only where that image is non-zero."""
    samples = int(augmentation["samples_per_case"])
    ratios = augmentation.get("class_ratios")
    if ratios:
        # a case without some class (no necrosis, say) just draws among the others, so no warning for it
        return mt.RandCropByLabelClassesd(KEYS, label_key="label", spatial_size=patch, ratios=list(ratios),
                                          num_classes=len(ratios), num_samples=samples, image_key=image_key,
                                          image_threshold=0, warn=False)
    return mt.RandCropByPosNegLabeld(KEYS, label_key="label", spatial_size=patch, pos=float(augmentation["pos"]),
                                     neg=float(augmentation["neg"]), num_samples=samples, image_key=image_key,
                                     image_threshold=0)
