"""Rigid co-registration of a study's series onto the reference (registration.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from BrainTumorAILib.core.case import Case, harmonise, load_case
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, resample_to
from BrainTumorAILib.core.phantom import make_phantom, phantom_affine
from BrainTumorAILib.core.preprocess import head_mask
from BrainTumorAILib.core.registration import co_register


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=5, shape=(72, 72, 60), spacing=(2.5, 2.5, 2.5))


def rigid_move(degrees: float, shift_mm: tuple[float, float, float]) -> np.ndarray:
    """A 4x4 RAS rigid transform: rotations of ``degrees``, -degrees / 2, degrees / 3 about x, y, z, then a shift."""
    move = np.eye(4)
    move[:3, :3] = Rotation.from_euler("xyz", [degrees, -degrees / 2, degrees / 3], degrees=True).as_matrix()
    move[:3, 3] = shift_mm
    return move


def moved(image: Image, degrees: float, shift_mm: tuple[float, float, float], spacing=(2.5, 2.5, 5.0)) -> Image:
    """``image`` resampled on a thick-slice grid whose header is wrong by a rigid move (the patient moved)."""
    shape = tuple(int(round(n * s / t)) for n, s, t in zip(image.shape, image.spacing, spacing))
    thick = resample_to(image, Image(np.zeros(shape, np.float32), phantom_affine(shape, spacing)))
    return Image(thick.array, rigid_move(degrees, shift_mm) @ thick.affine)


def inside_error(registered: Image, truth: Image) -> float:
    head = head_mask(truth.array)
    return float(np.mean(np.abs(registered.array[head] - truth.array[head])))


def test_a_moved_thick_slice_series_is_registered_back(phantom):
    flair, t2 = phantom.images["flair"], phantom.images["t2"]
    case = Case({"flair": flair, "t2": moved(t2, 6.0, (7.0, -5.0, 4.0))}, "moved")
    registered, records = co_register(case, "flair", "auto")
    through_affines, _ = co_register(case, "flair", "never")
    record = {r.sequence: r for r in records}["t2"]
    assert record.action == "registered" and record.verdict == "ok"
    assert record.head_dice_after > record.head_dice_before + 0.1
    assert 3.0 < record.rotation_deg < 9.0 and record.translation_mm > 5.0
    assert registered.images["t2"].same_grid(flair)
    # registered back, the series matches the truth far better than through its (wrong) affine
    assert inside_error(registered.images["t2"], t2) < 0.5 * inside_error(through_affines.images["t2"], t2)
    # the recorded RAS matrix undoes the move: head points come back within 4 mm (the registration's accuracy on
    # 2.5 x 5 mm voxels; the move itself displaces them by 10-15 mm, the matrix the wrong way round by twice that)
    head = np.argwhere(head_mask(t2.array))[::97]
    points = (t2.affine @ np.c_[head, np.ones(len(head))].T)
    recorded = np.array(record.moving_to_reference_ras) @ rigid_move(6.0, (7.0, -5.0, 4.0)) @ points
    assert np.abs(recorded - points)[:3].max() < 4.0


def test_registering_a_study_twice_gives_the_same_transform_and_keeps_the_thread_setting(phantom):
    import SimpleITK as sitk

    case = Case({"flair": phantom.images["flair"], "t2": moved(phantom.images["t2"], 4.0, (3.0, 2.0, -2.0))}, "twice")
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    first = co_register(case, "flair", "always")[1]
    second = co_register(case, "flair", "always")[1]
    assert [r.transform for r in first] == [r.transform for r in second]
    assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == threads


def test_series_that_line_up_are_detected_and_not_registered(phantom):
    registered, records = co_register(Case(phantom.images, "aligned"), "t1c", "auto")
    assert {r.sequence: r.action for r in records} == {"flair": "skipped", "t1": "skipped", "t1c": "reference",
                                                       "t2": "skipped"}
    for sequence, image in phantom.images.items():
        np.testing.assert_array_equal(registered.images[sequence].array, image.array)


def test_always_registers_even_aligned_series_and_keeps_them_in_place(phantom):
    case = Case({"t1c": phantom.images["t1c"], "t2": phantom.images["t2"]}, "aligned")
    registered, records = co_register(case, "t1c", "always")
    record = records[-1]
    assert record.action == "registered" and record.translation_mm < 1.5 and record.rotation_deg < 1.5


def test_a_failed_registration_is_an_error_naming_the_series(phantom):
    flair = phantom.images["flair"]
    blob = np.zeros(flair.shape, np.float32)
    blob[5:15, 5:15, 5:15] = 1.0  # a small object in a corner: no head to align
    case = Case({"flair": flair, "t2": Image(blob, phantom_affine(flair.shape, (2.6, 2.6, 2.6)))}, "bad")
    with pytest.raises(InputError, match="Registration of t2 .*failed"):
        co_register(case, "flair", "always")


def test_unknown_mode_is_refused(phantom):
    with pytest.raises(InputError, match="Unknown registration mode"):
        co_register(Case(phantom.images, "x"), "t1c", "sometimes")


def test_brats_sample_is_detected_as_aligned(data_dir):
    folder = data_dir / "samples" / "BraTS-GLI-00001-000"
    if not folder.is_dir():
        pytest.skip(f"sample not found: {folder}")
    case = load_case(folder)
    registered, records = co_register(case, "t1c", "auto")
    assert all(r.action in ("reference", "skipped") for r in records)
    expected, _ = harmonise(case, "t1c")
    for sequence in case.images:
        np.testing.assert_array_equal(registered.images[sequence].array, expected.images[sequence].array)
