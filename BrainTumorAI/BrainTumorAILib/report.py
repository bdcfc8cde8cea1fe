"""Write a pipeline result to a folder: label map, brain mask, report.json, a slice mosaic and the classified slices.

Every file goes through a temporary name, so a folder never holds a half-written output.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image as PILImage

from .core.atomic import atomic_path, write_json
from .core.image import reorient, save_image
from .core.labels import SEGMENT_STYLE
from .pipeline import PipelineResult

OUTPUT_NAMES = {"labels": "labels.nii.gz", "brainmask": "brainmask.nii.gz", "stripped": "stripped.nii.gz",
                "uncertainty": "uncertainty.nii.gz", "report": "report.json", "picture": "report.png",
                "classification_picture": "classification.png", "dicom_seg": "segmentation.dcm"}


def write_outputs(result: PipelineResult, out_dir: str | Path, *, extra_report: dict[str, Any] | None = None,
                  dicom_sources: Sequence[Path] | None = None, timings: dict[str, float] | None = None,
                  side_picture: np.ndarray | None = None) -> dict[str, Path]:
    """Write every output of ``result`` into ``out_dir``, each once; report.json last, so its presence marks a
    finished case.

    ``dicom_sources``: the files of the reference series when the case came from DICOM; the segmentation is then
    also written as a DICOM SEG that references them. ``timings`` join the report's ``timings_s``;
    ``side_picture`` (an RGB (H, W, 3) uint8 render, e.g. Slicer's 3D view) goes right of the slice mosaic."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    segmentation = result.segmentation
    if segmentation is not None:
        written["labels"] = save_image(segmentation.labels, out / OUTPUT_NAMES["labels"], dtype=np.uint8)
        if dicom_sources:
            from .core.dicom import write_dicom_seg

            written["dicom_seg"] = write_dicom_seg(segmentation.classes, dicom_sources, out / OUTPUT_NAMES["dicom_seg"])
        if segmentation.uncertainty is not None:
            written["uncertainty"] = save_image(segmentation.uncertainty, out / OUTPUT_NAMES["uncertainty"],
                                                dtype=np.float32)
    if result.brain_mask is not None:
        written["brainmask"] = save_image(result.brain_mask, out / OUTPUT_NAMES["brainmask"], dtype=np.uint8)
        written["stripped"] = save_image(result.stripped, out / OUTPUT_NAMES["stripped"], dtype=np.float32)
    written["picture"] = save_mosaic(result, out / OUTPUT_NAMES["picture"], side_picture=side_picture)
    if result.classification_slices is not None and result.classification:
        written["classification_picture"] = save_slice_sheet(
            result.classification_slices, result.classification, out / OUTPUT_NAMES["classification_picture"])
    report = result.report()
    report["outputs"] = {key: path.name for key, path in written.items()}
    report.update(extra_report or {})
    report["timings_s"].update(timings or {})
    written["report"] = write_json(report, out / OUTPUT_NAMES["report"])
    return written


def tumour_centre(classes: np.ndarray | None, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Voxel (i, j, k) at the tumour's centre of mass, or the volume's centre when there is no tumour."""
    if classes is None or not np.any(classes):
        return tuple(n // 2 for n in shape)  # type: ignore[return-value]
    return tuple(int(round(c)) for c in np.argwhere(classes > 0).mean(axis=0))  # type: ignore[return-value]


def save_mosaic(result: PipelineResult, path: str | Path, side_picture: np.ndarray | None = None) -> Path:
    """A picture of axial, coronal and sagittal slices through the tumour: the reference image, overlays, title;
    ``side_picture`` (RGB (H, W, 3) uint8, a 3D render) scaled to its height on the right.

    Rows: the reference grid reoriented to LAS so that every picture reads the same way (the patient's right on the
    picture's left, as radiologists view it; superior and anterior up); columns: image, tumour overlay, brain mask.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    grid = reorient(result.reference_image, "LAS")
    volume = grid.array
    classes = None
    if result.segmentation is not None:
        classes = reorient(result.segmentation.classes, "LAS").array
    brain = reorient(result.brain_mask, "LAS").array if result.brain_mask is not None else None
    centre = tumour_centre(classes, grid.shape)
    low, high = np.percentile(volume[volume != 0] if np.any(volume) else volume, (1, 99.5))
    colours = ListedColormap([(0, 0, 0, 0)] + [(*SEGMENT_STYLE[c]["colour"], 0.55) for c in (1, 2, 3)])

    def plane(array: np.ndarray, view: str) -> np.ndarray:
        i, j, k = centre
        cut = {"axial": array[:, :, k], "coronal": array[:, j, :], "sagittal": array[i, :, :]}[view]
        return np.rot90(cut)  # first array axis becomes the columns (L to the right), last one the rows

    views = ("axial", "coronal", "sagittal")
    figure, axes = plt.subplots(len(views), 3, figsize=(10.5, 10.5), dpi=90)
    for row, view in enumerate(views):
        aspect = _aspect(grid.spacing, view)
        for column in range(3):
            axis = axes[row, column]
            axis.imshow(plane(volume, view), cmap="gray", vmin=low, vmax=high, aspect=aspect,
                        interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        if classes is not None:
            axes[row, 1].imshow(plane(classes, view), cmap=colours, vmin=0, vmax=3, aspect=aspect,
                                interpolation="nearest")
        if brain is not None:
            axes[row, 2].contour(plane(brain, view).astype(float), levels=[0.5], colors=["#33ff66"], linewidths=1)
        axes[row, 0].set_ylabel(view)
    axes[0, 0].set_title(f"{result.reference} (reference)")
    axes[0, 1].set_title("tumour: necrosis / oedema / enhancing")
    if classes is not None:
        legend = [Patch(facecolor=SEGMENT_STYLE[c]["colour"], label=SEGMENT_STYLE[c]["name"]) for c in (1, 2, 3)]
        axes[0, 1].legend(handles=legend, loc="lower right", fontsize=7, framealpha=0.7)
    axes[0, 2].set_title("brain mask" if brain is not None else "no skull stripping")
    figure.suptitle(_caption(result), fontsize=10, wrap=True)  # the reason can outrun one line
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    picture = PILImage.open(buffer).convert("RGB")
    if side_picture is not None:
        picture = _beside(picture, side_picture)
    with atomic_path(path) as temporary:
        picture.save(temporary, format="png")
    return Path(path)


def _beside(mosaic: "PILImage.Image", render: np.ndarray) -> "PILImage.Image":
    """``render`` scaled to the mosaic's height and put right of it, with a caption."""
    from PIL import ImageDraw

    side = PILImage.fromarray(render)
    side = side.resize((round(side.width * mosaic.height / side.height), mosaic.height))
    ImageDraw.Draw(side).text((12, 10), "3D: tumour segments and brain (Slicer 3D view)", fill="white",
                              font_size=max(14, mosaic.height // 50))
    combined = PILImage.new("RGB", (mosaic.width + side.width, mosaic.height), "white")
    combined.paste(mosaic, (0, 0))
    combined.paste(side, (mosaic.width, 0))
    return combined


def save_slice_sheet(slices: np.ndarray, classification: dict[str, Any], path: str | Path) -> Path:
    """A picture of the (N, S, S) slices the classifier saw (standardised, in vote order), each titled with its
    view, offset and vote, under the study's answer: the check that 3D slices look like the 2D training images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    places = [(view, vote) for view, votes in classification["votes"].items() for vote in votes]
    columns = 9 if len(slices) > 15 else 5
    rows = -(-len(slices) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.75 * rows + 0.6), dpi=90, squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, (view, vote) in zip(axes.ravel(), slices, places):
        axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axis.set_title(f"{view[:3]} {vote['offset_mm']:+d} mm\n{vote['label']}", fontsize=7)
    figure.suptitle(f"{classification.get('sequence', '')} slices as classified: {classification['label']} "
                    f"({classification['reason']})", fontsize=8, wrap=True)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return Path(path)


def _aspect(spacing: tuple[float, float, float], view: str) -> float:
    """imshow aspect (row spacing / column spacing) of a rotated LAS slice."""
    si, sj, sk = spacing
    return {"axial": sj / si, "coronal": sk / si, "sagittal": sk / sj}[view]


def _caption(result: PipelineResult) -> str:
    parts = [f"case {result.case_name}"]
    if result.classification:
        parts.append(f"class: {result.classification.get('label')} ({result.classification.get('reason')})")
    if result.segmentation is not None:
        volumes = result.segmentation.volumes_ml
        parts.append("volumes mL: " + ", ".join(f"{name} {volumes[name]:.1f}" for name in ("WT", "TC", "ET")
                                                 if name in volumes))
    parts.append("research use only")
    return " | ".join(parts)


def summary_line(result: PipelineResult) -> str:
    """One line for a batch log."""
    return _caption(result).replace(" | research use only", "")
