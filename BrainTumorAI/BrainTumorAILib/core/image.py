"""The engine's image value: voxels that never travel without their affine.

Convention, stated once: ``Image.array`` is indexed (i, j, k) in the file's voxel order (nibabel's order), and
``Image.affine`` maps homogeneous voxel indices (i, j, k, 1) to RAS millimetres, exactly like a NIfTI affine and
like Slicer's IJKToRAS matrix. NRRD files (LPS headers) are converted to RAS on load and back on save.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import aff2axcodes, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform
from scipy import ndimage

from .atomic import atomic_path
from .errors import InputError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
ITK_SUFFIXES = (".mha", ".mhd")  # MetaImage, read through SimpleITK
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SEPARABLE_TOLERANCE_VOXELS = 1e-3


@dataclasses.dataclass(frozen=True, eq=False)
class Image:
    """A 3D image: ``array`` of shape (I, J, K) and a 4x4 voxel-to-RAS ``affine``; ``path`` is where it came from."""

    array: np.ndarray
    affine: np.ndarray
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j, k."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def orientation(self) -> str:
        """Axis codes of i, j, k, for example ``"LPS"`` or ``"RAS"``."""
        return "".join(aff2axcodes(self.affine))

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<in memory>"

    def with_array(self, array: np.ndarray) -> "Image":
        """The same grid holding other voxels (shape must match)."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} does not match the grid {self.array.shape}")
        return Image(array, self.affine, self.path)

    def same_grid(self, other: "Image", atol: float = 1e-4) -> bool:
        return self.shape == other.shape and np.allclose(self.affine, other.affine, atol=atol)

    def corners_ras(self) -> np.ndarray:
        """The 8 corners of the voxel grid (voxel centres at the extremes) in RAS mm, shape (8, 3)."""
        extent = np.array(self.shape) - 1
        corners = np.array([[a, b, c, 1.0] for a in (0, extent[0]) for b in (0, extent[1]) for c in (0, extent[2])])
        return (self.affine @ corners.T).T[:, :3]


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _is_nrrd(path: Path) -> bool:
    return path.name.lower().endswith(NRRD_SUFFIXES)


def load_image(path: str | os.PathLike, *, label: bool = False) -> Image:
    """Load a 3D NIfTI, NRRD or MetaImage (.mha, .mhd) image; raise InputError naming the file when it cannot be used.

    Intensity images are returned as float32 and must hold finite, non-constant values; label maps keep an
    integer dtype. A 4D image with a single volume is accepted as 3D.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"File not found: {path}")
    if not path.is_file():
        raise InputError(f"Not a file: {path}")
    try:
        if _is_nifti(path):
            array, affine = _read_nifti(path)
        elif _is_nrrd(path):
            array, affine = _read_nrrd(path)
        elif path.name.lower().endswith(ITK_SUFFIXES):
            from .itk_io import read_itk

            array, affine = read_itk(path)
        else:
            raise InputError(f"Unsupported image format (expected .nii, .nii.gz, .nrrd, .mha or .mhd): {path}")
    except InputError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError, nib.filebasedimages.ImageFileError) as error:
        raise InputError(f"Cannot read {path}: the file is truncated or corrupt ({error})") from error
    array = _as_3d(array, path)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError(f"Invalid voxel-to-world transform (singular or not finite) in {path}")
    if label:
        if not np.issubdtype(array.dtype, np.integer):
            if not np.all(np.isfinite(array)):
                raise InputError(f"Label map holds NaN or infinite values: {path}")
            array = np.rint(array).astype(np.int16)
    else:
        array = np.asarray(array, dtype=np.float32)
        if not np.all(np.isfinite(array)):
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise InputError(f"Image holds {bad} NaN or infinite voxels: {path}")
        if float(array.max()) == float(array.min()):
            what = "all zero" if float(array.max()) == 0.0 else f"constant ({float(array.max())})"
            raise InputError(f"Image is {what}, it holds no anatomy: {path}")
    return Image(array, affine.astype(np.float64), path)


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = nib.load(str(path))
    if len(image.shape) < 3:
        raise InputError(f"Image is {len(image.shape)}D with shape {image.shape}, a 3D volume is expected: {path}")
    return np.asanyarray(image.dataobj), image.affine


def _read_nrrd(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nrrd

    array, header = nrrd.read(str(path))
    directions = np.asarray(header.get("space directions"), dtype=np.float64)
    if directions.ndim != 2 or array.ndim < 3:
        raise InputError(f"Image is {array.ndim}D with shape {array.shape}, a 3D volume is expected: {path}")
    spatial = [row for row in directions if np.all(np.isfinite(row))]
    affine = np.eye(4)
    affine[:3, :3] = np.array(spatial[:3]).T
    affine[:3, 3] = np.asarray(header.get("space origin", [0, 0, 0]), dtype=np.float64)
    space = str(header.get("space", "left-posterior-superior")).lower()
    if space in ("left-posterior-superior", "lps"):
        affine = _LPS_TO_RAS @ affine
    elif space not in ("right-anterior-superior", "ras"):
        raise InputError(f"Unsupported NRRD space '{space}': {path}")
    return array, affine


def _as_3d(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(f"Image is {array.ndim}D with shape {tuple(array.shape)}, a 3D volume is expected: {path}")
    if min(array.shape) < 2:
        raise InputError(f"Image is 2D (shape {tuple(array.shape)}), a 3D volume is expected: {path}")
    return array


def save_image(image: Image, path: str | os.PathLike, dtype: np.dtype | type | None = None) -> Path:
    """Write ``image`` as NIfTI (.nii, .nii.gz) or NRRD (.nrrd, LPS header), atomically; return the path."""
    path = Path(path)
    array = image.array if dtype is None else image.array.astype(dtype)
    with atomic_path(path) as temporary:
        if _is_nifti(path):
            nifti = nib.Nifti1Image(array, image.affine)
            nifti.set_qform(image.affine, code=1)
            nifti.set_sform(image.affine, code=1)
            nib.save(nifti, str(temporary))
        elif _is_nrrd(path):
            import nrrd

            lps = _LPS_TO_RAS @ image.affine
            header = {
                "space": "left-posterior-superior",
                "space directions": lps[:3, :3].T,
                "space origin": lps[:3, 3],
                "kinds": ["domain"] * 3,
                "encoding": "gzip",
            }
            nrrd.write(str(temporary), np.ascontiguousarray(array), header, index_order="F")
        else:
            raise InputError(f"Unsupported output format (use .nii, .nii.gz or .nrrd): {path}")
    return path


def reorient(image: Image, axcodes: str = "RAS") -> Image:
    """The same voxels with axes permuted and flipped so that i, j, k point along ``axcodes`` (no interpolation)."""
    current = io_orientation(image.affine)
    target = axcodes2ornt(tuple(axcodes))
    transform = ornt_transform(current, target)
    array = nib.orientations.apply_orientation(image.array, transform)
    affine = image.affine @ inv_ornt_aff(transform, image.shape)
    return Image(np.ascontiguousarray(array), affine, image.path)


def resample_to(image: Image, reference: Image, *, label: bool = False, fill: float | None = None) -> Image:
    """Resample ``image`` onto ``reference``'s grid through both affines.

    Linear interpolation for intensities, nearest neighbour for labels. Voxels outside ``image`` get ``fill``
    (default: the image's minimum for intensities, 0 for labels). Returns ``image`` itself when the grids match.
    """
    if image.same_grid(reference, atol=1e-5):
        return Image(image.array, reference.affine, image.path)
    reference_to_source = np.linalg.inv(image.affine) @ reference.affine
    matrix, offset = reference_to_source[:3, :3], reference_to_source[:3, 3]
    if fill is None:
        fill = 0.0 if label else float(image.array.min())
    source = image.array if label else image.array.astype(np.float32, copy=False)
    if _is_axis_permutation(matrix, offset, image.shape, reference.shape):
        array = _permute_exact(source, matrix, offset)
    else:
        array = _interpolate(source, matrix, offset, reference.shape, 0 if label else 1, fill)
    return Image(array.astype(image.array.dtype if label else np.float32, copy=False), reference.affine, image.path)


def _interpolate(source: np.ndarray, matrix: np.ndarray, offset: np.ndarray, shape: tuple[int, int, int],
                 order: int, fill: float) -> np.ndarray:
    """scipy's ``affine_transform`` of ``source`` (output index -> source index: ``matrix @ r + offset``) onto
    ``shape``, with two shortcuts that leave the result as it was: where every output axis runs along one source
    axis (any grids without rotation, to ``SEPARABLE_TOLERANCE_VOXELS``) the source is transposed so that the matrix
    is diagonal, which scipy interpolates axis by axis, several times faster; and with a zero ``fill`` only the output box that can see a non-zero source voxel
    is computed (a mask or probability on a coarse grid, brought back to a large one)."""
    axes = _axis_correspondence(matrix, shape)
    if axes is not None:
        source = np.transpose(source, axes)
        matrix, offset = np.array([matrix[axes[t], t] for t in range(3)]), offset[axes]
    start, stop = np.zeros(3, dtype=int), np.array(shape)
    if fill == 0:
        box = _output_box(source, np.diag(matrix) if axes is not None else matrix, offset, shape)
        if box is None:
            return np.zeros(shape, dtype=source.dtype)
        start, stop = box
    shift = (matrix * start) if axes is not None else matrix @ start
    inside = ndimage.affine_transform(source, matrix, offset + shift, output_shape=tuple(int(n) for n in stop - start),
                                      order=order, mode="constant", cval=fill, prefilter=False)
    if np.array_equal(stop - start, shape):
        return inside
    array = np.zeros(shape, dtype=inside.dtype)
    array[tuple(slice(int(a), int(b)) for a, b in zip(start, stop))] = inside
    return array


def _axis_correspondence(matrix: np.ndarray, shape: tuple[int, int, int]) -> list[int] | None:
    """For each output axis the one source axis it moves along, or None when an axis mixes several (rotation).

    The other terms may be float32 rounding (1e-8 in the affines of many NIfTI files), as long as over the whole
    output grid they move no sample by more than ``SEPARABLE_TOLERANCE_VOXELS``."""
    largest = np.abs(matrix).argmax(axis=0)
    if sorted(largest) != [0, 1, 2]:
        return None
    off_axis = np.abs(matrix).copy()
    off_axis[largest, range(3)] = 0.0
    if (off_axis @ (np.array(shape) - 1.0)).max() > SEPARABLE_TOLERANCE_VOXELS:
        return None
    return [int(axis) for axis in largest]


def _output_box(source: np.ndarray, matrix: np.ndarray, offset: np.ndarray, shape: tuple[int, int, int]
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The (start, stop) output indices outside which every sample reads only zero source voxels (the source's
    non-zero box grown by a voxel, mapped back and grown by one more), or None when the source is all zero."""
    nonzero = source != 0
    if not nonzero.any():
        return None
    low, high = [], []
    for axis in range(3):
        present = np.flatnonzero(nonzero.any(axis=tuple(a for a in range(3) if a != axis)))
        low.append(present[0] - 1)
        high.append(present[-1] + 1)
    corners = np.array(np.meshgrid(*zip(low, high), indexing="ij")).reshape(3, -1).astype(float)
    mapped = np.linalg.solve(matrix, corners - offset[:, None])
    start = np.clip(np.floor(mapped.min(axis=1)) - 1, 0, np.array(shape)).astype(int)
    stop = np.clip(np.ceil(mapped.max(axis=1)) + 2, 0, np.array(shape)).astype(int)
    if (stop <= start).any():
        return None
    return start, stop


def _is_axis_permutation(matrix: np.ndarray, offset: np.ndarray, source_shape: tuple, target_shape: tuple) -> bool:
    """True when the reference grid is the source grid with axes permuted or flipped (exact, no interpolation)."""
    rounded = np.rint(matrix)
    if not np.allclose(matrix, rounded, atol=1e-5) or not np.allclose(offset, np.rint(offset), atol=1e-4):
        return False
    if sorted(np.abs(rounded).sum(axis=0)) != [1, 1, 1] or sorted(np.abs(rounded).sum(axis=1)) != [1, 1, 1]:
        return False
    corners = np.array([[0, 0, 0], np.array(target_shape) - 1])
    mapped = rounded @ corners.T + np.rint(offset)[:, None]
    return bool(np.all(mapped.min(axis=1) == 0) and np.all(mapped.max(axis=1) == np.array(source_shape) - 1))


def _permute_exact(source: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    rounded = np.rint(matrix).astype(int)
    axes = [int(np.flatnonzero(rounded[:, target_axis])[0]) for target_axis in range(3)]
    array = np.transpose(source, axes)
    for target_axis, source_axis in enumerate(axes):
        if rounded[source_axis, target_axis] < 0:
            array = np.flip(array, axis=target_axis)
    return np.ascontiguousarray(array)
