"""Batch run of the BrainTumorAI pipeline through the Slicer Logic, one scene per case folder.

In Slicer:     Slicer --no-main-window --python-script BrainTumorAI/Scripts/batch.py --cases DIR --out DIR
Headless:      .venv/bin/python BrainTumorAI/Scripts/batch.py --cases DIR --out DIR      (slicer-core wheel)

For each case folder: load the volumes with Slicer's Volumes logic, run the pipeline through the Logic, and write
``OUT/<case>/segmentation.seg.nrrd`` (Slicer's format, with names and terminology), ``labels.nii.gz``,
``brainmask.nii.gz``, ``report.json`` and ``report.png`` (slice mosaic with overlays beside a 3D render of the
segments). A case is written into a temporary folder renamed when complete; finished cases are skipped; a failed
case is logged and the batch goes on; the exit code is the number of failed cases.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # BrainTumorAILib and BrainTumorAISlicer

import slicer  # noqa: E402
import vtk  # noqa: E402

from BrainTumorAILib.batch import run_batch  # noqa: E402
from BrainTumorAILib.core.case import find_sequences  # noqa: E402
from BrainTumorAILib.core.errors import InputError  # noqa: E402
from BrainTumorAILib.core.labels import CONVENTIONS  # noqa: E402
from BrainTumorAILib.core.registration import MODES as REGISTRATION_MODES  # noqa: E402
from BrainTumorAILib.core.vocabulary import DEVICE_CHOICES  # noqa: E402
from BrainTumorAILib.pipeline import STEPS, PipelineOptions  # noqa: E402
from BrainTumorAILib.report import summary_line, write_outputs  # noqa: E402
from BrainTumorAISlicer import mrml  # noqa: E402
from BrainTumorAISlicer.headless import start_scene  # noqa: E402
from BrainTumorAISlicer.logic import PipelineLogic  # noqa: E402

SEGMENTATION_FILE = "segmentation.seg.nrrd"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", required=True, type=Path, help="folder whose sub-folders are cases")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per case)")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated pipeline steps")
    parser.add_argument("--labels", choices=tuple(CONVENTIONS), default="brats2021", help="label convention")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--register", choices=REGISTRATION_MODES, default="auto",
                        help="rigid co-registration of the series onto the reference")
    parser.add_argument("--no-3d", dest="render_3d", action="store_false", help="skip the 3D render in report.png")
    return parser.parse_args(argv)


def load_volumes(folder: Path, scene) -> dict:
    """Each recognised sequence of ``folder`` as a volume node (Slicer's Volumes logic), in a subject/study."""
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), folder.name), "MR")
    inputs = {}
    for sequence, path in find_sequences(folder).items():
        with _quiet_vtk_log():  # a file ITK cannot read logs a page per reader tried; the message below says it
            node = slicer.modules.volumes.logic().AddArchetypeVolume(str(path), f"{folder.name}-{sequence}", 0)
        if node is None:
            raise InputError(f"Slicer's Volumes module could not read {path} (not a readable volume)")
        mrml.place_in(node, study)
        inputs[sequence] = node
    if not inputs:
        raise InputError(f"No FLAIR, T1, T1c or T2 image found in {folder}")
    return inputs


@contextlib.contextmanager
def _quiet_vtk_log():
    verbosity = vtk.vtkLogger.GetCurrentVerbosityCutoff()
    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
    try:
        yield
    finally:
        vtk.vtkLogger.SetStderrVerbosity(verbosity)


def write_segmentation(node, path: Path) -> None:
    """Write a segmentation node in Slicer's .seg.nrrd format (names, colours, terminology, geometry)."""
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(path))
    if not storage.WriteData(node):
        raise OSError(f"Slicer could not write {path}")


def process_case(folder: Path, out: Path, options: PipelineOptions, render_3d: bool) -> str:
    """One case into ``out`` (via a temporary folder beside it); returns the summary line."""
    scene = slicer.mrmlScene
    scene.Clear(0)
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        inputs = load_volumes(folder, scene)
        started = time.perf_counter()
        nodes = PipelineLogic().process(inputs, options, name=folder.name)
        timings = {"slicer_logic": round(time.perf_counter() - started, 3)}
        extra = {"slicer": {"segmentation": SEGMENTATION_FILE, "scene_nodes": [n.GetName() for n in nodes.nodes()]}}
        rendered = None
        if nodes.segmentation is not None and render_3d:
            started = time.perf_counter()
            shown = [nodes.segmentation] + ([nodes.brain] if nodes.brain is not None else [])
            from BrainTumorAISlicer.render import render_3d as render

            rendered = render(shown)
            timings["render_3d"] = round(time.perf_counter() - started, 3)
        staging.mkdir(parents=True)
        if nodes.segmentation is not None:
            write_segmentation(nodes.segmentation, staging / SEGMENTATION_FILE)
        write_outputs(nodes.engine, staging, extra_report=extra, timings=timings, side_picture=rendered)
        if out.exists():  # an unfinished earlier attempt (no report.json): replace it
            shutil.rmtree(out)
        os.replace(staging, out)
        return summary_line(nodes.engine)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        scene.Clear(0)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    start_scene()
    steps = tuple(step.strip() for step in arguments.steps.split(",") if step.strip())
    options = PipelineOptions(steps=steps, labels=arguments.labels, device=arguments.device,
                              register=arguments.register)
    summary = run_batch(arguments.cases, arguments.out,
                        lambda folder, out: process_case(folder, out, options, arguments.render_3d), log=sys.stderr)
    return min(len(summary.failed), 125)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
