"""SimpleITK images to and from the engine's ``Image``, exactly through direction, spacing and origin.

SimpleITK works in LPS millimetres and its ``GetArrayFromImage`` is indexed (k, j, i); the engine's ``Image`` is
indexed (i, j, k) with a voxel-to-RAS affine. The conversion is ``affine = diag(-1, -1, 1, 1) @ [[D @ S, o], [0, 1]]``
with D the direction matrix, S = diag(spacing) and o the origin, and its inverse; no axis is ever flipped by guessing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .image import Image

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse


def affine_of(image: sitk.Image) -> np.ndarray:
    """The 4x4 voxel (i, j, k) to RAS affine of a 3D SimpleITK image."""
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction @ np.diag(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    return LPS_TO_RAS @ lps


def sitk_to_image(image: sitk.Image, path: Path | None = None) -> Image:
    """A 3D scalar SimpleITK image as an ``Image``: array (I, J, K) in the image's voxel order, voxel-to-RAS affine."""
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        where = f": {path}" if path else ""
        raise InputError(f"Image is {image.GetDimension()}D with {image.GetNumberOfComponentsPerPixel()} "
                         f"component(s) per voxel, a 3D scalar volume is expected{where}")
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # (k, j, i) -> (i, j, k), a view
    return Image(array, affine_of(image), path)


def image_to_sitk(image: Image) -> sitk.Image:
    """An ``Image`` as a 3D SimpleITK image (LPS direction, spacing, origin; voxel (i, j, k) stays voxel (i, j, k))."""
    lps = LPS_TO_RAS @ image.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    result = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(image.array).transpose(2, 1, 0)))
    result.SetSpacing(spacing.tolist())
    result.SetDirection((lps[:3, :3] / spacing).ravel().tolist())
    result.SetOrigin(lps[:3, 3].tolist())
    return result


def read_itk(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an image SimpleITK can read (.mha, .mhd): array (I, J, K) or (I, J, K, 1) and its voxel-to-RAS affine.

    A 4D file with a single volume is returned with its trailing axis of length 1 (``image.load_image`` drops it).
    """
    path = Path(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"Cannot read {path}: the file is truncated, corrupt or not an image ({error})") from error
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        size = list(image.GetSize())
        image = sitk.Extract(image, size[:3] + [0], [0, 0, 0, 0])
        volume = sitk_to_image(image, path)
        return volume.array[..., np.newaxis], volume.affine
    volume = sitk_to_image(image, path)
    return volume.array, volume.affine
