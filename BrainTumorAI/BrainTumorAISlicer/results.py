"""Engine results to scene nodes: tumour segmentation, brain mask, stripped volume, classification table, uncertainty,
and a linear transform per co-registered series (apply it to that series' volume to see it aligned; the volume
itself is never changed).

``EngineOutputs`` is what a run produced, from either path: an in-process ``PipelineResult`` or the output folder a
child process wrote. ``add_result_nodes`` turns it into new nodes on the reference volume's geometry, in the
reference's subject-hierarchy study; if anything fails, the nodes it made are removed again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from BrainTumorAILib.core.image import Image, load_image
from BrainTumorAILib.core.labels import from_convention
from BrainTumorAILib.report import OUTPUT_NAMES

from . import mrml
from .terminology import brain_segment, tumour_segments


@dataclasses.dataclass
class EngineOutputs:
    """Arrays (I, J, K) on the reference grid and the run's JSON report (classification, volumes, timings)."""

    report: dict[str, Any]
    classes: Image | None = None
    brain_mask: Image | None = None
    stripped: Image | None = None
    uncertainty: Image | None = None

    @classmethod
    def from_result(cls, result) -> "EngineOutputs":
        """From a ``pipeline.PipelineResult`` (in-process run)."""
        segmentation = result.segmentation
        return cls(result.report(), segmentation.classes if segmentation else None, result.brain_mask,
                   result.stripped, segmentation.uncertainty if segmentation else None)

    @classmethod
    def from_folder(cls, folder: str | Path) -> "EngineOutputs":
        """From the files ``report.write_outputs`` wrote (child-process run)."""
        folder = Path(folder)
        report = json.loads((folder / OUTPUT_NAMES["report"]).read_text())

        def optional(key: str, label: bool) -> Image | None:
            path = folder / OUTPUT_NAMES[key]
            return load_image(path, label=label) if path.exists() else None

        classes = optional("labels", True)
        if classes is not None:
            classes = classes.with_array(from_convention(classes.array, report["label_convention"]))
        return cls(report, classes, optional("brainmask", True), optional("stripped", False),
                   optional("uncertainty", False))


@dataclasses.dataclass
class ResultNodes:
    """The nodes one run added to the scene (None where the step did not run)."""

    segmentation: Any = None
    brain: Any = None
    stripped: Any = None
    classification: Any = None
    uncertainty: Any = None
    transforms: list = dataclasses.field(default_factory=list)  # one per co-registered series
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    engine: Any = None  # the pipeline.PipelineResult, when the run was in this process

    def nodes(self) -> list:
        return [node for node in (self.segmentation, self.brain, self.stripped, self.classification,
                                  self.uncertainty, *self.transforms) if node is not None]


def add_result_nodes(outputs: EngineOutputs, reference_node, name: str) -> ResultNodes:
    """New nodes for ``outputs`` on ``reference_node``'s geometry, placed in its study; all or nothing."""
    scene = reference_node.GetScene()
    for what, image in (("tumour segmentation", outputs.classes), ("brain mask", outputs.brain_mask),
                        ("stripped volume", outputs.stripped), ("uncertainty map", outputs.uncertainty)):
        if image is not None:
            mrml.check_same_grid(reference_node, image, what)
    added = ResultNodes(report=outputs.report)
    try:
        _add_nodes(outputs, reference_node, name, scene, added)
        parent = mrml.study_item(reference_node)
        transform = reference_node.GetParentTransformNode()
        for node in added.nodes():
            mrml.place_in(node, parent)
            if transform is not None and hasattr(node, "SetAndObserveTransformNodeID"):
                node.SetAndObserveTransformNodeID(transform.GetID())
    except Exception:
        for node in added.nodes():
            scene.RemoveNode(node)
        raise
    return added


def _add_nodes(outputs: EngineOutputs, reference: Any, name: str, scene: Any, added: ResultNodes) -> None:
    if outputs.classes is not None:
        classes = outputs.classes.array
        segments = [(spec, classes == cls) for cls, spec in tumour_segments().items()]
        added.segmentation = mrml.add_segmentation(scene, f"{name} tumour", reference, segments)
        added.segmentation.GetDisplayNode().SetSegmentOpacity3D("edema", 0.4)  # the core shows through in 3D
    if outputs.brain_mask is not None:
        added.brain = mrml.add_segmentation(scene, f"{name} brain", reference,
                                            [(brain_segment(), outputs.brain_mask.array)])
        added.brain.GetDisplayNode().SetOpacity3D(0.15)
    if outputs.stripped is not None:
        added.stripped = mrml.add_volume(scene, outputs.stripped.array, mrml.ijk_to_ras(reference),
                                         f"{name} stripped")
    classification = outputs.report.get("classification")
    if classification:
        added.classification = _add_classification_table(scene, f"{name} classification", classification)
    if outputs.uncertainty is not None:
        added.uncertainty = mrml.add_volume(scene, outputs.uncertainty.array.astype(np.float32),
                                            mrml.ijk_to_ras(reference), f"{name} uncertainty")
    for record in outputs.report.get("registration") or []:
        if record.get("moving_to_reference_ras"):
            added.transforms.append(mrml.add_linear_transform(
                scene, f"{name} {record['sequence']} to {outputs.report.get('reference', 'reference')}",
                np.array(record["moving_to_reference_ras"])))


def _add_classification_table(scene: Any, name: str, classification: dict[str, Any]) -> Any:
    """One row per class: share, whether predicted, its slice votes (all, then per view); the study's label, reason,
    sequence and tumour volume used as ``BrainTumorAI.*`` attributes, and the reason as the "predicted" column's
    description (its header's tooltip)."""
    shares = classification.get("shares", {})
    columns: dict[str, list] = {
        "class": list(shares), "share": [float(value) for value in shares.values()],
        "predicted": ["yes" if label == classification.get("label") else "" for label in shares],
    }
    if "vote_counts" in classification:
        columns["votes"] = [int(classification["vote_counts"].get(label, 0)) for label in shares]
        for view, votes in classification.get("votes", {}).items():
            columns[f"{view} votes"] = [sum(vote["label"] == label for vote in votes) for label in shares]
    table = mrml.add_table(scene, name, columns)
    for key, attribute in (("label", "label"), ("reason", "reason"), ("sequence", "sequence"),
                           ("tumour_volume_ml", "tumourVolumeMl")):
        if classification.get(key) is not None:
            table.SetAttribute(f"BrainTumorAI.{attribute}", str(classification[key]))
    if classification.get("reason"):
        table.SetColumnDescription("predicted", str(classification["reason"]))
    return table
