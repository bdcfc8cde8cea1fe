"""The engine's image value: load, save, reorient and resample always go through the affine."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, load_image, reorient, resample_to, save_image


def oblique_affine(spacing=(1.2, 0.9, 2.5), angle=0.3, origin=(-40.0, 12.0, 7.5)) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def smooth_volume(shape=(20, 24, 16)) -> np.ndarray:
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (10 + i + 2 * j + 3 * k).astype(np.float32)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd"])
def test_save_then_load_keeps_voxels_and_affine(tmp_path, suffix):
    image = Image(smooth_volume(), oblique_affine())
    path = save_image(image, tmp_path / f"volume{suffix}")
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.array, image.array)
    np.testing.assert_allclose(loaded.affine, image.affine, atol=1e-5)
    assert loaded.path == path


def test_nrrd_is_written_in_lps_and_read_back_in_ras(tmp_path):
    import nrrd

    image = Image(smooth_volume(), np.diag([1.0, 1.0, 1.0, 1.0]))
    path = save_image(image, tmp_path / "v.nrrd")
    header = nrrd.read_header(str(path))
    assert header["space"] == "left-posterior-superior"
    np.testing.assert_allclose(np.asarray(header["space directions"])[0], [-1, 0, 0])
    assert load_image(path).orientation == "RAS"


def test_save_leaves_no_temporary_file_behind(tmp_path):
    save_image(Image(smooth_volume(), np.eye(4)), tmp_path / "a.nii.gz")
    assert [p.name for p in tmp_path.iterdir()] == ["a.nii.gz"]


def test_geometry_properties():
    image = Image(smooth_volume(), oblique_affine(spacing=(1.2, 0.9, 2.5)))
    assert image.shape == (20, 24, 16)
    np.testing.assert_allclose(image.spacing, (1.2, 0.9, 2.5))
    assert Image(smooth_volume(), np.diag([-1.0, -1.0, 1.0, 1.0])).orientation == "LPS"


@pytest.mark.parametrize("codes", ["RAS", "LPS", "LAS", "PIR"])
def test_reorient_keeps_every_voxel_at_its_world_position(codes):
    image = Image(smooth_volume(), oblique_affine())
    turned = reorient(image, codes)
    assert turned.orientation == codes
    voxel = np.array([3, 5, 7, 1.0])
    world = image.affine @ voxel
    back = np.rint(np.linalg.inv(turned.affine) @ world).astype(int)[:3]
    assert turned.array[tuple(back)] == image.array[3, 5, 7]


@pytest.mark.parametrize("codes", ["LPS", "LAS", "RAS"])
def test_resample_onto_a_reoriented_grid_is_exact(codes):
    reference = Image(smooth_volume(), np.diag([-1.0, -1.0, 2.0, 1.0]))
    moved = reorient(reference, codes)
    back = resample_to(moved, reference)
    np.testing.assert_array_equal(back.array, reference.array)
    np.testing.assert_allclose(back.affine, reference.affine)


def test_resample_linear_interpolates_a_linear_ramp_exactly():
    source = Image(smooth_volume((30, 30, 30)), np.eye(4))
    target_affine = np.eye(4)
    target_affine[:3, :3] *= 0.5
    target_affine[:3, 3] = 5.25
    target = Image(np.zeros((20, 20, 20), np.float32), target_affine)
    result = resample_to(source, target)
    i, j, k = np.meshgrid(*(5.25 + 0.5 * np.arange(20),) * 3, indexing="ij")
    np.testing.assert_allclose(result.array, 10 + i + 2 * j + 3 * k, atol=1e-3)


def test_resample_labels_uses_nearest_neighbour_and_keeps_dtype():
    labels = np.zeros((10, 10, 10), np.uint8)
    labels[2:6, 2:6, 2:6] = 4
    source = Image(labels, np.eye(4))
    shifted = np.eye(4)
    shifted[:3, :3] *= 0.7
    result = resample_to(source, Image(np.zeros((14, 14, 14)), shifted), label=True)
    assert result.array.dtype == np.uint8
    assert set(np.unique(result.array)) == {0, 4}


def test_resample_fills_outside_with_the_minimum():
    source = Image(smooth_volume((8, 8, 8)), np.eye(4))
    far = np.eye(4)
    far[:3, 3] = 6
    result = resample_to(source, Image(np.zeros((8, 8, 8)), far))
    assert result.array[-1, -1, -1] == source.array.min()


@pytest.mark.parametrize("rotated", [False, True])
@pytest.mark.parametrize("label", [False, True])
def test_resample_shortcuts_give_scipys_affine_transform(rotated, label):
    """The separable path (axes that correspond, here permuted, flipped and scaled) and the zero-fill box give what
    one plain affine_transform over the whole output gives."""
    from scipy import ndimage

    rng = np.random.default_rng(7)
    source = np.zeros((20, 24, 18), np.float32)
    source[5:12, 8:20, 3:9] = rng.random((7, 12, 6))
    source = (source > 0.5).astype(np.uint8) if label else source
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0.0, 0.0, -2.0], [1.5, 0.0, 0.0], [0.0, 3.0, 0.0]])
    affine[:3, 3] = (30.0, -10.0, 4.0)
    target_affine = np.diag([0.8, 0.8, 0.8, 1.0])
    if rotated:
        target_affine[:3, :3] = oblique_affine()[:3, :3] * 0.8
    target = Image(np.zeros((60, 50, 40), np.float32), target_affine)
    result = resample_to(Image(source, affine), target, label=label, fill=0.0)
    matrix = np.linalg.inv(affine) @ target_affine
    expected = ndimage.affine_transform(source, matrix[:3, :3], matrix[:3, 3], output_shape=target.shape,
                                        order=0 if label else 1, mode="constant", cval=0.0, prefilter=False)
    assert expected.any()
    np.testing.assert_allclose(result.array, expected, atol=1e-5)


def test_resample_of_matching_grid_returns_the_same_voxels():
    image = Image(smooth_volume(), oblique_affine())
    assert resample_to(image, image).array is image.array


def write_nifti(path, array, affine=None):
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), str(path))
    return path


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="File not found: .*absent.nii.gz"):
        load_image(tmp_path / "absent.nii.gz")


def test_truncated_gzip_is_reported_as_corrupt(tmp_path):
    path = write_nifti(tmp_path / "t.nii.gz", smooth_volume())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.nii\.gz: the file is truncated or corrupt"):
        load_image(path)


def test_two_dimensional_image_is_refused(tmp_path):
    path = write_nifti(tmp_path / "flat.nii.gz", np.ones((20, 20), np.float32))
    with pytest.raises(InputError, match="2D.*flat.nii.gz"):
        load_image(path)


def test_single_slice_volume_is_refused_as_2d(tmp_path):
    path = write_nifti(tmp_path / "slice.nii.gz", smooth_volume((20, 20, 1)))
    with pytest.raises(InputError, match="2D.*slice.nii.gz"):
        load_image(path)


def test_four_dimensional_image_is_refused(tmp_path):
    path = write_nifti(tmp_path / "series.nii.gz", np.ones((8, 8, 8, 3), np.float32))
    with pytest.raises(InputError, match="4D.*series.nii.gz"):
        load_image(path)


def test_four_dimensional_image_with_one_volume_is_accepted(tmp_path):
    path = write_nifti(tmp_path / "one.nii.gz", smooth_volume()[..., None])
    assert load_image(path).shape == (20, 24, 16)


def test_nan_voxels_are_refused(tmp_path):
    volume = smooth_volume()
    volume[1, 2, 3] = np.nan
    path = write_nifti(tmp_path / "nan.nii.gz", volume)
    with pytest.raises(InputError, match="1 NaN or infinite voxels.*nan.nii.gz"):
        load_image(path)


def test_all_zero_volume_is_refused(tmp_path):
    path = write_nifti(tmp_path / "zero.nii.gz", np.zeros((8, 8, 8), np.float32))
    with pytest.raises(InputError, match="all zero.*zero.nii.gz"):
        load_image(path)


def test_unsupported_format_is_named(tmp_path):
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"DICM")
    with pytest.raises(InputError, match="Unsupported image format.*scan.dcm"):
        load_image(path)


def test_label_maps_load_as_integers(tmp_path):
    path = write_nifti(tmp_path / "seg.nii.gz", np.array(np.arange(27).reshape(3, 3, 3) % 5, np.float32))
    labels = load_image(path, label=True)
    assert np.issubdtype(labels.array.dtype, np.integer)
    assert labels.array.max() == 4


def test_real_lps_sample_affine_matches_nibabel(data_dir):
    path = data_dir / "samples/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz"
    image = load_image(path)
    np.testing.assert_allclose(image.affine, nib.load(str(path)).affine)
    assert image.orientation == "LPS"
    assert image.shape == (240, 240, 155)


def test_truncation_of_real_gzip_detected_even_with_intact_header(tmp_path):
    path = write_nifti(tmp_path / "big.nii.gz", np.random.default_rng(0).random((40, 40, 40), dtype=np.float32))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw)[:-2000])
    with pytest.raises(InputError, match="big.nii.gz"):
        load_image(path)
