"""N4 bias-field correction (SimpleITK) of raw scanner series, as a model card's ``preprocessing.bias_correction``.

The field is estimated on a copy shrunk by ``SHRINK`` inside the head (``preprocess.head_mask``: the head, or the
brain of a stripped series), then evaluated on the full grid and divided out, so a 256^3 series takes seconds.
Voxels outside the head keep their values. N4 models positive raw intensities: a series with negative values
inside the head (already z-scored) is returned unchanged. Output: float32 on the input's grid.
"""

from __future__ import annotations

import numpy as np

from .image import Image
from .preprocess import head_mask

SHRINK = 4
ITERATIONS = (50, 50, 30)  # per fitting level
METHODS = ("none", "n4")


def n4_correct(image: Image) -> Image:
    """``image`` with its N4-estimated multiplicative bias field divided out inside its foreground, float32."""
    import SimpleITK as sitk

    from .itk_io import image_to_sitk

    values = image.array.astype(np.float32)
    head = head_mask(values)
    mask = head & (values > 0)
    if mask.sum() < 1000 or (values[head] < 0).mean() > 0.01:
        return image.with_array(values)
    full = image_to_sitk(image.with_array(np.where(mask, values, 0.0).astype(np.float32)))
    mask_itk = image_to_sitk(image.with_array(mask.astype(np.uint8)))
    mask_itk.CopyInformation(full)
    shrunk = sitk.Shrink(full, [SHRINK] * 3)
    shrunk_mask = sitk.Shrink(mask_itk, [SHRINK] * 3)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(ITERATIONS))
    corrector.Execute(shrunk, shrunk_mask)
    log_field = sitk.GetArrayFromImage(corrector.GetLogBiasFieldAsImage(full)).transpose(2, 1, 0)
    corrected = np.where(mask, values / np.exp(log_field), values)
    return image.with_array(corrected.astype(np.float32))


def correct_bias(images: dict[str, Image], method: str) -> dict[str, Image]:
    """Each series corrected by ``method`` (one of METHODS)."""
    if method not in METHODS:
        raise ValueError(f"Unknown bias correction '{method}' (choose {', '.join(METHODS)})")
    if method == "none":
        return images
    return {name: n4_correct(image) for name, image in images.items()}
