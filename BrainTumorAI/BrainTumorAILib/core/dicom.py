"""DICOM in and out: find MR series below a folder, map them to FLAIR / T1 / T1c / T2, read them as ``Image``s, and
write a tumour class map as a DICOM SEG that references the series it was drawn on.

Only classic image series (one slice per file, ``ImagePositionPatient`` in every file) are read; multi-frame objects
and non-image objects (SEG, SR, DICOMDIR, ...) are skipped. Geometry comes from the headers and SimpleITK's reading
is checked against it, so voxel (i, j, k) of a series is column i, row j of its k-th slice along the slice normal.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.sr.codedict import codes

from .. import __version__
from .atomic import atomic_path
from .case import Case, check_overlap
from .errors import InputError
from .image import Image, resample_to
from .itk_io import LPS_TO_RAS, sitk_to_image
from .labels import SEGMENT_STYLE, TERMINOLOGY_CATEGORY, TERMINOLOGY_REGION
from .vocabulary import SEQUENCES

LONG_TR_MS = 2000.0  # FLAIR and T2 are acquired with TR above this
FLAIR_TI_MS = 1500.0  # an inversion time above this nulls fluid: FLAIR
T2_TE_MS = 60.0  # T2-weighted: long TE
T1_TR_MS = 1000.0  # T1-weighted spin or gradient echo: short TR ...
T1_TE_MS = 30.0  # ... and short TE
T1_TI_MS = (300.0, 1300.0)  # inversion-prepared T1 (MPRAGE, T1-FLAIR): long TR, TI in this range, short TE
_POSITION_TOLERANCE_MM = 0.05  # slice positions closer than this coincide; farther off the regular grid: uneven

_B, _A = r"(?<![a-z0-9])", r"(?![a-z0-9])"  # token boundaries, as in case.sequence_of
_FLAIR = _B + r"(flair|t2f|fla|tirm|dark[-_ ]?fluid)" + _A
_T1 = _B + r"(t1|t1w|t1n|t1c|t1ce|t1gd|t1post|mprage|mp[-_ ]rage|spgr|fspgr|bravo)" + _A
_T2 = _B + r"(t2|t2w)" + _A
_CONTRAST = (_B + r"(post|postcontrast|contrast|gad|gado|gd|ce|t1c|t1ce|t1gd|t1post)" + _A
             + r"|\+ ?(c|gd|gad)" + _A + r"|" + _B + r"c\+")
_PRE_CONTRAST = _B + r"(pre|precontrast|non[-_ ]?contrast|without|w/o|wo)" + _A
_NOT_STRUCTURAL = (_B + r"(loc|localizer|localiser|scout|survey|cal|calibration|asset|dwi|dti|adc|diffusion|trace|"
                   r"tracew|swi|t2star|t2_star|hemo|perfusion|perf|dsc|dce|asl|tof|mra|mip|fa|cbf|cbv|mtt|map|mrs|"
                   r"spectroscopy)" + _A + r"|t2\*")
_NOT_STRUCTURAL_IMAGE_TYPES = {"LOCALIZER", "DIFFUSION", "ADC", "TRACEW", "FA", "PERFUSION", "MIP"}
_NO_AGENT = {"", "none", "no", "n/a", "na", "0", "nil", "-"}
# Type 2 patient and study attributes highdicom copies from the source images into a SEG.
_PATIENT_STUDY_ATTRIBUTES = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber",
                             "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName")


@dataclasses.dataclass(frozen=True)
class SeriesInfo:
    """One DICOM image series: its UID, what its headers say (times in ms) and its files (in path order)."""

    uid: str
    description: str = ""
    modality: str = "MR"
    repetition_time: float | None = None
    echo_time: float | None = None
    inversion_time: float | None = None
    contrast_agent: str = ""
    image_type: tuple[str, ...] = ()
    series_number: int | None = None
    files: tuple[Path, ...] = ()

    @property
    def number_of_files(self) -> int:
        return len(self.files)

    def summary(self) -> str:
        """One line for messages: UID, description, modality, TR/TE/TI, contrast agent, file count."""
        times = "/".join("-" if t is None else f"{t:g}" for t in (self.repetition_time, self.echo_time,
                                                                  self.inversion_time))
        agent = f", contrast '{self.contrast_agent}'" if self.contrast_agent else ""
        return (f"{self.uid}  '{self.description}'  {self.modality}  TR/TE/TI {times} ms{agent}  "
                f"{self.number_of_files} files")


@dataclasses.dataclass(frozen=True)
class DicomCase(Case):
    """A ``Case`` read from DICOM; ``series`` gives each sequence's source series (UID, description, files)."""

    series: Mapping[str, SeriesInfo] = dataclasses.field(default_factory=dict)


def contains_dicom(folder: str | os.PathLike) -> bool:
    """True when any file below ``folder`` is a DICOM file (has the 'DICM' preamble)."""
    return any(_is_dicom_file(path) for path in _files_below(Path(folder)))


def find_series(folder: str | os.PathLike) -> list[SeriesInfo]:
    """Every classic DICOM image series below ``folder`` (recursive), grouped by SeriesInstanceUID.

    Headers are read without pixel data. Series are sorted by series number, then description.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"DICOM folder not found: {folder}")
    grouped: dict[str, list[tuple[Path, Dataset]]] = {}
    for path in _files_below(folder):
        if not _is_dicom_file(path):
            continue
        header = _read_header(path)
        if all(keyword in header for keyword in ("SeriesInstanceUID", "ImagePositionPatient",
                                                  "ImageOrientationPatient", "PixelSpacing", "Rows")):
            if int(header.get("NumberOfFrames", 1) or 1) == 1:
                grouped.setdefault(str(header.SeriesInstanceUID), []).append((path, header))
    series = [_series_info(uid, members) for uid, members in grouped.items()]
    return sorted(series, key=lambda s: (s.series_number is None, s.series_number or 0, s.description, s.uid))


def sequence_of_series(info: SeriesInfo) -> str | None:
    """The sequence an MR series is (``flair``, ``t1``, ``t1c``, ``t2``), or None (localiser, DWI, PD, not MR, ...).

    The description decides the weighting when it names one ("AX FLAIR", "T2 TSE", "t1_mprage"; "T1 FLAIR" is T1);
    otherwise the acquisition times do: FLAIR when TI > 1500 ms with long TR; T2 when TR > 2000 ms and TE > 60 ms
    without long TI; T1 when TR and TE are short, or TI is 300-1300 ms with short TE (MPRAGE). A T1 series is T1c
    when ContrastBolusAgent is filled in or the description says post / gad / +C / contrast, unless it says pre.
    """
    description = info.description.lower()
    if info.modality.upper() != "MR" or re.search(_NOT_STRUCTURAL, description):
        return None
    if _NOT_STRUCTURAL_IMAGE_TYPES & {value.upper() for value in info.image_type}:
        return None
    weighting = _weighting_of_description(description) or _weighting_of_times(info)
    if weighting == "t1" and _is_post_contrast(info, description):
        return "t1c"
    return weighting


def assign_series(series: Sequence[SeriesInfo], choose: Mapping[str, str] | None = None,
                  folder: str | os.PathLike | None = None) -> dict[str, SeriesInfo]:
    """Map sequences to series: ``choose`` ({sequence: SeriesInstanceUID}) first, the others by ``sequence_of_series``.

    Series already chosen are not mapped again, and a chosen sequence ignores other series that look like it. Raise
    InputError, listing every series, when two series look like one sequence or when no series maps to any.
    """
    where = f"below {folder}" if folder else "given"
    by_uid = {info.uid: info for info in series}
    assigned: dict[str, SeriesInfo] = {}
    for sequence, uid in (choose or {}).items():
        if sequence not in SEQUENCES:
            raise InputError(f"Unknown sequence '{sequence}' in the series choice (expected one of "
                             f"{', '.join(SEQUENCES)})")
        if uid not in by_uid:
            raise InputError(f"No DICOM series {uid} (chosen for {sequence}) {where}\n{_listing(series)}")
        assigned[sequence] = by_uid[uid]
    chosen_uids = list((choose or {}).values())
    twice = sorted({uid for uid in chosen_uids if chosen_uids.count(uid) > 1})
    if twice:
        raise InputError(f"DICOM series {', '.join(twice)} is chosen for more than one sequence")
    taken = {info.uid for info in assigned.values()}
    candidates: dict[str, list[SeriesInfo]] = {}
    for info in series:
        sequence = sequence_of_series(info)
        if sequence and sequence not in assigned and info.uid not in taken:
            candidates.setdefault(sequence, []).append(info)
    ambiguous = {sequence: found for sequence, found in candidates.items() if len(found) > 1}
    if ambiguous:
        detail = "; ".join(f"{len(found)} series look like {sequence}" for sequence, found in ambiguous.items())
        raise InputError(f"Cannot tell which DICOM series to use {where}: {detail}. {_HOW_TO_CHOOSE}\n"
                         f"{_listing(series)}")
    assigned.update({sequence: found[0] for sequence, found in candidates.items()})
    if not assigned:
        raise InputError(f"None of the {len(series)} DICOM series {where} is recognised as FLAIR, T1, T1c or T2. "
                         f"{_HOW_TO_CHOOSE}\n{_listing(series)}")
    return {sequence: assigned[sequence] for sequence in SEQUENCES if sequence in assigned}


def load_dicom_case(folder: str | os.PathLike, choose: Mapping[str, str] | None = None,
                    name: str | None = None) -> DicomCase:
    """Load the FLAIR / T1 / T1c / T2 series found below ``folder`` as a ``DicomCase`` (see ``assign_series``).

    Each image keeps its series' own grid: array (columns, rows, slices), affine voxel -> RAS; ``Image.path`` is the
    folder holding the series, and ``case.series`` keeps each series' files (for ``write_dicom_seg``).
    """
    folder = Path(folder)
    series = find_series(folder)
    if not series:
        raise InputError(f"No DICOM image series found below {folder}")
    assigned = assign_series(series, choose, folder)
    images = {sequence: read_series(info) for sequence, info in assigned.items()}
    case = DicomCase(images, name or folder.name, series=assigned)
    check_overlap(case)
    return case


def read_series(info: SeriesInfo) -> Image:
    """Read one series with SimpleITK into an ``Image``: float32 array (columns, rows, slices), voxel -> RAS affine.

    Raise InputError when the slices do not form one regular volume (several orientations or echoes, missing or
    unevenly spaced slices, a tilted stack) or when the series is constant.
    """
    slices, affine = _slice_stack(info.files)
    folder = Path(os.path.commonpath([path.parent for path, _ in slices]))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(path) for path, _ in slices])
    try:
        volume = sitk_to_image(reader.Execute(), folder)
    except RuntimeError as error:
        raise InputError(f"Cannot read DICOM series {info.uid} in {folder}: {error}") from error
    if not np.allclose(volume.affine, affine, atol=_POSITION_TOLERANCE_MM):
        raise InputError(f"DICOM series {info.uid} in {folder}: the geometry SimpleITK reads differs from the slice "
                         "positions in the headers (tilted or sheared stack?)")
    array = np.asarray(volume.array, dtype=np.float32)
    if float(array.max()) == float(array.min()):
        raise InputError(f"DICOM series {info.uid} in {folder} is constant ({float(array.max())}), it holds no "
                         "anatomy")
    return Image(array, volume.affine, folder)


def write_dicom_seg(classes: Image, source_series_files: Sequence[str | os.PathLike], out_path: str | os.PathLike,
                    *, series_description: str = "BrainTumorAI tumour segmentation", series_number: int = 900,
                    manufacturer: str = "BrainTumorAI") -> Path:
    """Write a class map (0 background, 1 necrosis, 2 oedema, 3 enhancing; ``labels.py``) as a binary DICOM SEG.

    The SEG references the source series' instances and has one frame per source slice and present segment.
    ``classes`` should lie on that series' grid (array (columns, rows, slices)); otherwise it is resampled onto it,
    nearest neighbour (exact for the same grid with axes permuted or flipped). All three segments are always
    described; a class absent from the map keeps its segment with no frames (a map with no tumour at all is written
    with every frame empty, because a SEG needs frames). Written atomically; returns ``out_path``.
    """
    slices, affine = _slice_stack(source_series_files)
    rows, columns = int(slices[0][1].Rows), int(slices[0][1].Columns)
    grid = Image(np.zeros((columns, rows, len(slices)), dtype=np.uint8), affine)
    labels = resample_to(classes, grid, label=True).array
    unknown = sorted(set(np.unique(labels).tolist()) - {0, *SEGMENT_STYLE})
    if unknown:
        raise InputError(f"Class map {classes.name} holds values {unknown}; expected 0-3 (labels.CLASS_NAMES)")
    if np.any(classes.array) and not np.any(labels):
        raise InputError(f"Class map {classes.name} does not overlap the DICOM series in {slices[0][0].parent}")
    frames = np.ascontiguousarray(labels.transpose(2, 1, 0)).astype(np.uint8)  # (slice, row, column)
    algorithm = hd.AlgorithmIdentificationSequence(name="BrainTumorAI", version=__version__,
                                                   family=codes.cid7162.ArtificialIntelligence)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=value,
            segment_label=style["name"],
            segmented_property_category=_sct(TERMINOLOGY_CATEGORY),
            segmented_property_type=_sct(style["type"]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            anatomic_regions=[_sct(TERMINOLOGY_REGION)],
            display_color=hd.color.CIELabColor.from_rgb(*(round(255 * c) for c in style["colour"])),
        )
        for value, style in sorted(SEGMENT_STYLE.items())
    ]
    sources = [_with_patient_study_attributes(header) for _, header in slices]
    try:
        segmentation = hd.seg.Segmentation(
            source_images=sources, pixel_array=frames, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer=manufacturer,
            manufacturer_model_name="BrainTumorAI", software_versions=__version__, device_serial_number="none",
            series_description=series_description,
        )
    except (ValueError, AttributeError) as error:
        raise InputError(f"Cannot write a DICOM SEG on the series in {slices[0][0].parent}: {error}") from error
    out_path = Path(out_path)
    with atomic_path(out_path) as temporary:
        segmentation.save_as(temporary)
    return out_path


_HOW_TO_CHOOSE = ('Choose the series with choose={"flair": SERIES_UID, ...} (command line: --series flair=SERIES_UID, '
                  "once per sequence). Series found:")


def _listing(series: Sequence[SeriesInfo]) -> str:
    return "\n".join(f"  {info.summary()}  -> {sequence_of_series(info) or 'not recognised'}" for info in series)


def _weighting_of_description(description: str) -> str | None:
    has_t1 = re.search(_T1, description) is not None
    if re.search(_FLAIR, description):
        return "t1" if has_t1 else "flair"  # T1-FLAIR is a T1-weighted sequence
    if has_t1:
        return "t1"
    return "t2" if re.search(_T2, description) else None


def _weighting_of_times(info: SeriesInfo) -> str | None:
    tr, te, ti = info.repetition_time, info.echo_time, info.inversion_time
    if tr is None or te is None:
        return None
    if ti is not None and ti > FLAIR_TI_MS and tr > LONG_TR_MS:
        return "flair"
    if tr > LONG_TR_MS and te > T2_TE_MS and (ti is None or ti <= FLAIR_TI_MS):
        return "t2"
    if te < T1_TE_MS and (tr < T1_TR_MS or (ti is not None and T1_TI_MS[0] <= ti <= T1_TI_MS[1])):
        return "t1"
    return None


def _is_post_contrast(info: SeriesInfo, description: str) -> bool:
    if re.search(_PRE_CONTRAST, description):
        return False
    return info.contrast_agent.strip().lower() not in _NO_AGENT or re.search(_CONTRAST, description) is not None


def _files_below(folder: Path) -> Iterator[Path]:
    for root, directories, names in os.walk(folder):
        directories.sort()
        for name in sorted(names):
            yield Path(root) / name


def _is_dicom_file(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            preamble = stream.read(132)
    except OSError:
        return False
    return len(preamble) == 132 and preamble[128:] == b"DICM"


def _read_header(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError) as error:
        raise InputError(f"Cannot read the DICOM header of {path}: {error}") from error


def _number(header: Dataset, keyword: str) -> float | None:
    value = header.get(keyword)
    if isinstance(value, MultiValue):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    return float(value)


def _series_info(uid: str, members: list[tuple[Path, Dataset]]) -> SeriesInfo:
    header = members[0][1]
    number = _number(header, "SeriesNumber")
    image_type = header.get("ImageType") or ()
    return SeriesInfo(
        uid=uid,
        description=str(header.get("SeriesDescription", "") or "").strip(),
        modality=str(header.get("Modality", "") or ""),
        repetition_time=_number(header, "RepetitionTime"),
        echo_time=_number(header, "EchoTime"),
        inversion_time=_number(header, "InversionTime"),
        contrast_agent=str(header.get("ContrastBolusAgent", "") or "").strip(),
        image_type=tuple(str(value) for value in (image_type if isinstance(image_type, MultiValue) else [image_type])),
        series_number=None if number is None else int(number),
        files=tuple(path for path, _ in members),
    )


def _slice_stack(files: Sequence[str | os.PathLike]) -> tuple[list[tuple[Path, Dataset]], np.ndarray]:
    """The slices sorted along their normal, and the voxel (column, row, slice) -> RAS affine they form.

    Raise InputError unless the slices share orientation, pixel spacing and size and are evenly spaced, one per
    position.
    """
    slices = [(Path(path), _read_header(Path(path))) for path in files]
    if len(slices) < 2:
        listed = ", ".join(str(path) for path, _ in slices) or "none"
        raise InputError(f"A 3D volume needs at least 2 DICOM slices, {len(slices)} given: {listed}")
    first = slices[0][1]
    folder = Path(os.path.commonpath([path.parent for path, _ in slices]))
    where = f"{first.get('SeriesInstanceUID', '(no SeriesInstanceUID)')} in {folder}"
    orientation = np.array([float(v) for v in first.ImageOrientationPatient])
    spacing = np.array([float(v) for v in first.PixelSpacing])
    size = (int(first.Rows), int(first.Columns))
    for path, header in slices[1:]:
        if not np.allclose([float(v) for v in header.ImageOrientationPatient], orientation, atol=1e-4):
            raise InputError(f"DICOM series {where} mixes slice orientations ({path.name} differs from "
                             f"{slices[0][0].name})")
        if not np.allclose([float(v) for v in header.PixelSpacing], spacing, atol=1e-4) or \
                (int(header.Rows), int(header.Columns)) != size:
            raise InputError(f"DICOM series {where} mixes pixel spacings or image sizes ({path.name} differs "
                             f"from {slices[0][0].name})")
    row_direction, column_direction = orientation[:3], orientation[3:]
    normal = np.cross(row_direction, column_direction)
    positions = np.array([[float(v) for v in header.ImagePositionPatient] for _, header in slices])
    order = np.argsort(positions @ normal, kind="stable")
    slices, positions = [slices[i] for i in order], positions[order]
    gaps = np.diff(positions @ normal)
    if np.any(gaps < _POSITION_TOLERANCE_MM):
        distinct = int(np.sum(gaps >= _POSITION_TOLERANCE_MM)) + 1
        raise InputError(f"DICOM series {where} has {len(slices)} files at {distinct} slice positions (several "
                         "echoes, time points or stacks in one series?); choose another series")
    step = (positions[-1] - positions[0]) / (len(slices) - 1)
    expected = positions[0] + np.arange(len(slices))[:, None] * step
    if np.max(np.abs(positions - expected)) > _POSITION_TOLERANCE_MM:
        raise InputError(f"DICOM series {where} has unevenly spaced or missing slices")
    lps = np.eye(4)
    lps[:3, 0] = row_direction * spacing[1]  # along a row: column index i, spacing between columns
    lps[:3, 1] = column_direction * spacing[0]  # down a column: row index j, spacing between rows
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    return slices, LPS_TO_RAS @ lps


def _with_patient_study_attributes(header: Dataset) -> Dataset:
    """``header`` with absent type 2 patient / study attributes present and empty (highdicom copies them)."""
    for keyword in _PATIENT_STUDY_ATTRIBUTES:
        if keyword not in header:
            setattr(header, keyword, None)
    return header


def _sct(code: tuple[str, str]) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=code[0], scheme_designator="SCT", meaning=code[1])
