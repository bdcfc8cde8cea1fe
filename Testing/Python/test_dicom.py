"""DICOM in and out: series found and mapped to sequences, read at the right RAS positions, and a DICOM SEG written
on a source series. The tests write their own small MR series from synthetic volumes."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from BrainTumorAILib.core.case import find_sequences, load_case, sequence_of
from BrainTumorAILib.core.dicom import SeriesInfo, find_series, load_dicom_case, sequence_of_series, write_dicom_seg
from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image, load_image, reorient
from BrainTumorAILib.core.itk_io import LPS_TO_RAS, image_to_sitk, sitk_to_image

SHAPE = (32, 28, 12)
STUDY_UID = generate_uid()
FRAME_UID = generate_uid()


def oblique_flipped_affine() -> np.ndarray:
    """Rotated about two axes, i pointing left: oblique and left-handed, so the DICOM slice normal points against k."""
    a, b = 0.35, -0.2
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([-0.9, 1.1, 3.0])
    affine[:3, 3] = (20.0, -35.5, 42.0)
    return affine


def volume(rng: np.random.Generator, shape=SHAPE) -> np.ndarray:
    return rng.integers(0, 1200, size=shape).astype(np.int16)


def write_series(folder: Path, image: Image, description: str, tr: float, te: float, ti: float | None = None,
                 agent: str | None = None, number: int = 1) -> str:
    """Write ``image`` (integer voxels) as one MR file per k slice; file names run against the slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    lps = LPS_TO_RAS @ image.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    row_direction, column_direction = lps[:3, 0] / spacing[0], lps[:3, 1] / spacing[1]
    count = image.shape[2]
    for k in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Phantom", "P1", "", "O"
        ds.StudyInstanceUID, ds.StudyID, ds.StudyDate, ds.StudyTime = STUDY_UID, "1", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.SeriesDescription = series_uid, number, description
        ds.Modality, ds.InstanceNumber, ds.FrameOfReferenceUID = "MR", k + 1, FRAME_UID
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.RepetitionTime, ds.EchoTime = tr, te
        if ti is not None:
            ds.InversionTime = ti
        if agent is not None:
            ds.ContrastBolusAgent = agent
        ds.ImagePositionPatient = [round(float(v), 5) for v in lps[:3, 3] + k * lps[:3, 2]]
        ds.ImageOrientationPatient = [round(float(v), 8) for v in (*row_direction, *column_direction)]
        ds.PixelSpacing = [round(float(spacing[1]), 6), round(float(spacing[0]), 6)]
        ds.SliceThickness = round(float(spacing[2]), 6)
        ds.Rows, ds.Columns = image.shape[1], image.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(image.array[:, :, k].T.astype(np.int16)).tobytes()  # rows = j
        ds.save_as(folder / f"IM{count - k:04d}.dcm", enforce_file_format=True)
    return series_uid


def voxels_agree_in_ras(loaded: Image, original: Image) -> None:
    """Every voxel of ``loaded`` sits at an original voxel centre (through both affines) and holds its value."""
    ijk = np.indices(loaded.shape).reshape(3, -1)
    ras = loaded.affine @ np.vstack([ijk, np.ones(ijk.shape[1])])
    source = (np.linalg.inv(original.affine) @ ras)[:3]
    np.testing.assert_allclose(source, np.rint(source), atol=1e-3)
    index = np.rint(source).astype(int)
    assert np.all(index >= 0) and np.all(index < np.array(original.shape)[:, None])
    np.testing.assert_array_equal(loaded.array[tuple(ijk)], original.array[tuple(index)])


@pytest.mark.parametrize("description, sequence", [
    ("AX FLAIR", "flair"),
    ("T2 FLAIR AX", "flair"),
    ("t2_tirm_tra_dark-fluid", "flair"),
    ("T1 POST GAD", "t1c"),
    ("Ax T1 +C", "t1c"),
    ("T1 MPRAGE Gd", "t1c"),
    ("T1 pre-contrast", "t1"),
    ("t1_mprage", "t1"),
    ("Sag T1 FLAIR", "t1"),
    ("T2 TSE", "t2"),
    ("T2* GRE", None),
    ("DWI b1000", None),
    ("3-plane loc", None),
])
def test_series_description_names_the_sequence(description, sequence):
    assert sequence_of_series(SeriesInfo("1.2", description)) == sequence


@pytest.mark.parametrize("tr, te, ti, agent, sequence", [
    (9000, 120, 2500, "", "flair"),
    (4500, 95, None, "", "t2"),
    (500, 12, None, "", "t1"),
    (2300, 2.3, 900, "", "t1"),
    (500, 12, None, "Gadovist", "t1c"),
    (500, 12, None, "NONE", "t1"),
    (3000, 20, None, "", None),  # proton density
])
def test_acquisition_times_name_the_sequence_when_the_description_does_not(tr, te, ti, agent, sequence):
    info = SeriesInfo("1.2", "Series 5", repetition_time=tr, echo_time=te, inversion_time=ti, contrast_agent=agent)
    assert sequence_of_series(info) == sequence


def test_only_mr_series_map_to_a_sequence():
    assert sequence_of_series(SeriesInfo("1.2", "T1", modality="CT")) is None


def test_find_series_groups_files_by_series_and_reads_the_headers(tmp_path, rng):
    image = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    flair = write_series(tmp_path / "a", image, "AX FLAIR", 9000, 120, 2500, number=3)
    t1c = write_series(tmp_path / "b" / "deeper", image, "Series 7", 550, 10, agent="Dotarem", number=7)
    (tmp_path / "notes.txt").write_text("not DICOM")
    series = find_series(tmp_path)
    assert [info.uid for info in series] == [flair, t1c]
    assert series[0].description == "AX FLAIR" and series[0].inversion_time == 2500
    assert series[1].contrast_agent == "Dotarem" and series[1].number_of_files == SHAPE[2]
    assert [sequence_of_series(info) for info in series] == ["flair", "t1c"]


def test_dicom_series_read_back_with_the_same_voxels_at_the_same_ras_positions(tmp_path, rng):
    original = Image(volume(rng).astype(np.float32), oblique_flipped_affine())
    nib.save(nib.Nifti1Image(original.array, original.affine), str(tmp_path / "flair.nii.gz"))
    nifti = load_image(tmp_path / "flair.nii.gz")
    write_series(tmp_path / "dicom" / "flair", nifti, "AX FLAIR", 9000, 120, 2500)
    write_series(tmp_path / "dicom" / "t2", nifti, "T2 TSE", 4500, 100)
    case = load_dicom_case(tmp_path / "dicom")
    assert sorted(case.images) == ["flair", "t2"]
    loaded = case.images["flair"]
    assert loaded.array.dtype == np.float32 and loaded.path == tmp_path / "dicom" / "flair"
    np.testing.assert_allclose(loaded.affine[:3, 2], -nifti.affine[:3, 2], atol=1e-4)  # read with k reversed
    voxels_agree_in_ras(loaded, nifti)
    assert case.series["flair"].number_of_files == SHAPE[2]


def test_load_case_reads_a_folder_of_dicom_files(tmp_path, rng):
    image = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    write_series(tmp_path / "series1", image, "t1_mprage", 2300, 2.3, 900)
    case = load_case(tmp_path)
    assert list(case.images) == ["t1"] and case.name == tmp_path.name
    voxels_agree_in_ras(case.images["t1"], image)


def test_two_series_for_one_sequence_are_listed_and_choose_resolves_them(tmp_path, rng):
    image = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    first = write_series(tmp_path / "s1", image, "AX FLAIR", 9000, 120, 2500)
    second = write_series(tmp_path / "s2", image, "Series 9", 8000, 110, 2400)
    with pytest.raises(InputError) as raised:
        load_dicom_case(tmp_path)
    message = str(raised.value)
    assert "2 series look like flair" in message and 'choose={"flair": SERIES_UID' in message
    assert "--series flair=SERIES_UID" in message
    for uid, description in ((first, "AX FLAIR"), (second, "Series 9")):
        assert f"{uid}  '{description}'  MR  TR/TE/TI" in message and f"{SHAPE[2]} files" in message
    assert "9000/120/2500 ms" in message
    case = load_dicom_case(tmp_path, choose={"flair": second})
    assert case.series["flair"].uid == second and list(case.images) == ["flair"]


def test_series_that_maps_to_no_sequence_is_refused_with_the_listing(tmp_path, rng):
    image = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    uid = write_series(tmp_path, image, "DWI b1000", 5000, 80)
    with pytest.raises(InputError, match=f"None of the 1 DICOM series below .* is recognised(.|\n)*{uid}"):
        load_dicom_case(tmp_path)
    assert list(load_dicom_case(tmp_path, choose={"t2": uid}).images) == ["t2"]


def test_unknown_chosen_series_is_named(tmp_path, rng):
    write_series(tmp_path, Image(volume(rng), np.eye(4)), "AX FLAIR", 9000, 120, 2500)
    with pytest.raises(InputError, match="No DICOM series 1.2.3 \\(chosen for t1c\\)"):
        load_dicom_case(tmp_path, choose={"t1c": "1.2.3"})


def test_series_with_two_echoes_at_each_position_is_refused(tmp_path, rng):
    image = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    uid = write_series(tmp_path / "e1", image, "T2 TSE", 4500, 100)
    write_series(tmp_path / "e2", image, "T2 TSE", 4500, 100)
    for path in (tmp_path / "e2").iterdir():  # the second echo joins the first series
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = uid
        ds.save_as(path)
    with pytest.raises(InputError, match=f"{2 * SHAPE[2]} files at {SHAPE[2]} slice positions"):
        load_dicom_case(tmp_path)


@pytest.mark.parametrize("suffix", [".mha", ".mhd"])
def test_metaimage_reads_equal_to_the_nifti(tmp_path, rng, suffix):
    original = Image(volume(rng).astype(np.float32), oblique_flipped_affine())
    nib.save(nib.Nifti1Image(original.array, original.affine), str(tmp_path / "ref.nii.gz"))
    sitk.WriteImage(image_to_sitk(original), str(tmp_path / f"case_t1ce{suffix}"))
    nifti = load_image(tmp_path / "ref.nii.gz")
    meta = load_image(tmp_path / f"case_t1ce{suffix}")
    np.testing.assert_array_equal(meta.array, nifti.array)
    np.testing.assert_allclose(meta.affine, nifti.affine, atol=1e-5)
    assert sequence_of(f"case_t1ce{suffix}") == "t1c"
    assert find_sequences(tmp_path) == {"t1c": tmp_path / f"case_t1ce{suffix}"}


def test_sitk_conversion_is_exact_both_ways(rng):
    image = Image(volume(rng).astype(np.float32), oblique_flipped_affine())
    itk = image_to_sitk(image)
    assert itk.GetSize() == SHAPE
    lps_corner = LPS_TO_RAS @ image.affine @ np.array([31, 27, 11, 1.0])
    np.testing.assert_allclose(itk.TransformIndexToPhysicalPoint((31, 27, 11)), lps_corner[:3], atol=1e-9)
    back = sitk_to_image(itk)
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine, image.affine, atol=1e-12)


def test_dicom_seg_references_the_source_series_and_holds_one_frame_per_present_slice(tmp_path, rng):
    affine = oblique_flipped_affine()
    source = Image(volume(rng), affine)
    uid = write_series(tmp_path / "flair", source, "AX FLAIR", 9000, 120, 2500)
    case = load_dicom_case(tmp_path / "flair")
    grid = case.images["flair"]
    classes = np.zeros(grid.shape, dtype=np.uint8)
    classes[10:20, 8:16, 3:7] = 2  # oedema on 4 slices
    classes[12:16, 10:14, 4:6] = 3  # enhancing on 2; no necrosis
    out = write_dicom_seg(grid.with_array(classes), case.series["flair"].files, tmp_path / "out" / "seg.dcm")
    assert [p.name for p in out.parent.iterdir()] == ["seg.dcm"]
    assert [info.uid for info in find_series(tmp_path)] == [uid]  # the SEG beside it is no image series
    seg = hd.seg.segread(out)
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert [item.SegmentLabel for item in seg.SegmentSequence] == ["Necrosis", "Edema", "Enhancing tumor"]
    assert [item.SegmentedPropertyTypeCodeSequence[0].CodeValue for item in seg.SegmentSequence] == \
        ["6574001", "79654002", "86049000"]
    assert seg.SegmentSequence[0].SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert int(seg.NumberOfFrames) == 4 + 2
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == uid
    assert len(seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence) == SHAPE[2]
    # each frame lies on the source slice whose voxels it labels
    source_positions = {tuple(np.round(pydicom.dcmread(p).ImagePositionPatient, 3)): p
                        for p in case.series["flair"].files}
    for frame, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        position = tuple(np.round(item.PlanePositionSequence[0].ImagePositionPatient, 3))
        assert position in source_positions
        segment = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        k = int(np.rint((np.linalg.inv(grid.affine) @ LPS_TO_RAS @ np.array([*position, 1.0]))[2]))
        np.testing.assert_array_equal(seg.pixel_array[frame], (classes[:, :, k] == segment).T)


def test_dicom_seg_from_a_class_map_on_another_grid_orientation_is_resampled_exactly(tmp_path, rng):
    source = Image(volume(rng), np.diag([1.0, 1.0, 3.0, 1.0]))
    write_series(tmp_path / "t1", source, "t1_mprage", 2300, 2.3, 900)
    case = load_dicom_case(tmp_path / "t1")
    classes = np.zeros(SHAPE, dtype=np.uint8)
    classes[4:9, 5:7, 2] = 1
    on_las = reorient(case.images["t1"].with_array(classes), "LAS")
    out = write_dicom_seg(on_las, case.series["t1"].files, tmp_path / "seg.dcm")
    seg = hd.seg.segread(out)
    assert int(seg.NumberOfFrames) == 1
    np.testing.assert_array_equal(seg.pixel_array, (classes[:, :, 2] == 1).T)  # one frame: (rows, columns)


def test_class_map_with_values_outside_the_classes_is_refused(tmp_path, rng):
    source = Image(volume(rng), np.eye(4))
    write_series(tmp_path / "t2", source, "T2 TSE", 4500, 100)
    files = find_series(tmp_path)[0].files
    with pytest.raises(InputError, match="holds values \\[4\\]"):
        write_dicom_seg(source.with_array(np.full(SHAPE, 4, dtype=np.uint8)), files, tmp_path / "seg.dcm")
