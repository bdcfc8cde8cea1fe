"""The module's Logic: volume nodes in, result nodes out (``BrainTumorAI.BrainTumorAILogic`` is this class).

Kept here, free of Qt, so the batch script runs the same Logic on the ``slicer-core`` wheel. The engine is imported
inside the methods (but for ``core.vocabulary``, which needs nothing): Slicer must load the module before the
first-use install has put the engine's dependencies in.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from BrainTumorAILib.core.vocabulary import SEQUENCES

TASKS = {"strip": "skull_stripping", "classify": "classification", "segment": "segmentation"}


@dataclasses.dataclass
class BrainTumorAIJob:
    """A pipeline running in a child process, and where its results go."""

    process: object  # BrainTumorAISlicer.process.PipelineProcess
    referenceNode: object
    name: str


class PipelineLogic:
    """Volume nodes in, result nodes out. Never modifies inputs, never opens a dialog, needs no widget and no Qt.

    Two ways to run: ``startProcess`` (a child process with progress and cancel, for the panel) and ``process``
    (blocking, in this process, for scripts and the batch). Bad inputs raise ``BrainTumorAIError`` with a message
    the panel shows, before any node is added.
    """

    @staticmethod
    def availableModels(task: str) -> list:
        """(id, title) of every registered model for ``task``, the default first."""
        from BrainTumorAILib.core.registry import Registry

        cards = sorted(Registry.load().for_task(task), key=lambda card: not card.default)
        return [(card.id, card.title) for card in cards]

    @staticmethod
    def assignInputs(volumeNodes) -> dict:
        """Sequence -> volume node, recognised by node name as the engine recognises file names."""
        from BrainTumorAILib.core.case import sequence_of

        assigned = {}
        for node in volumeNodes:
            sequence = sequence_of(f"{node.GetName()}.nii")  # node names carry no file suffix
            if sequence and sequence not in assigned:
                assigned[sequence] = node
        return assigned

    def case(self, inputs: dict, options, name: Optional[str] = None):
        """Check the inputs and return them as an engine Case; raises BrainTumorAIError naming the problem."""
        from BrainTumorAILib.core.case import Case, check_overlap
        from BrainTumorAILib.core.errors import InputError
        from BrainTumorAILib.core.registry import Registry
        from BrainTumorAISlicer.mrml import image_from_volume

        if not inputs:
            raise InputError("Select at least one input volume (FLAIR, T1, T1c or T2).")
        unknown = sorted(set(inputs) - set(SEQUENCES))
        if unknown:
            raise InputError(f"Unknown sequence(s) {unknown}; expected {', '.join(SEQUENCES)}")
        transforms = {node.GetTransformNodeID() for node in inputs.values()}
        if len(transforms) > 1:
            raise InputError("The input volumes sit under different transforms; harden the transforms first.")
        images = {sequence: image_from_volume(node) for sequence, node in inputs.items()}
        reference = Case(images, "the selected volumes").reference_sequence(options.reference)
        case = Case(images, name or inputs[reference].GetName())
        registry = Registry.load()
        for step in options.steps:
            if step in ("classify", "segment"):
                card = registry.resolve(TASKS[step], getattr(options, f"{step}_model"))
                case.require(card.inputs, f"the {TASKS[step]} model '{card.id}'")
        check_overlap(case)
        return case

    def process(self, inputs: dict, options=None, progress: Optional[Callable[[float, str], None]] = None,
                cancel: Optional[Callable[[], bool]] = None, name: Optional[str] = None):
        """Run the pipeline here and now (blocking) and add the result nodes.

        Returns ``ResultNodes`` whose ``engine`` is the ``PipelineResult`` (for writing files, as the batch does).
        """
        from BrainTumorAILib.pipeline import PipelineOptions, run_pipeline
        from BrainTumorAISlicer.results import EngineOutputs, add_result_nodes

        options = options or PipelineOptions()
        case = self.case(inputs, options, name)
        result = run_pipeline(case, options, progress, cancel)
        nodes = add_result_nodes(EngineOutputs.from_result(result), inputs[result.reference], case.name)
        nodes.engine = result
        return nodes

    def startProcess(self, inputs: dict, options, name: Optional[str] = None) -> BrainTumorAIJob:
        """Start the pipeline in a child process; poll ``job.process.poll()``, then call ``finishProcess``."""
        from BrainTumorAISlicer.process import PipelineProcess

        case = self.case(inputs, options, name)
        reference = inputs[case.reference_sequence(options.reference)]
        return BrainTumorAIJob(PipelineProcess(case.images, options), reference, case.name)

    def finishProcess(self, job: BrainTumorAIJob):
        """Add the nodes of a child process that ended successfully; returns ``ResultNodes``."""
        from BrainTumorAILib.core.errors import BrainTumorAIError
        from BrainTumorAISlicer.results import EngineOutputs, add_result_nodes

        state = job.process.poll()
        if not state.succeeded:
            raise BrainTumorAIError(state.error or "The pipeline did not finish")
        return add_result_nodes(EngineOutputs.from_folder(job.process.out_dir), job.referenceNode, job.name)
