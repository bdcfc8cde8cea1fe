"""BrainTumorAI.py as Slicer loads it, on slicer-core: the module's metadata and its own self-test methods."""

from __future__ import annotations

import types
import unittest

import pytest

import slicer_harness


@pytest.fixture(scope="module")
def module():
    return slicer_harness.load_module()


def _run(module, method: str) -> None:
    slicer_harness.reset()
    result = unittest.TestResult()
    module.BrainTumorAITest(method).run(result)
    problems = [text for _, text in result.failures + result.errors]
    assert result.wasSuccessful(), "\n".join(problems)


def test_module_metadata_states_research_only_use(module):
    parent = types.SimpleNamespace()
    module.BrainTumorAI(parent)
    assert parent.categories == ["Segmentation"]
    assert "research only" in parent.helpText.lower()
    assert issubclass(module.BrainTumorAILogic, module.PipelineLogic)


def test_self_test_runs_the_phantom_through_the_whole_pipeline(module):
    _run(module, "test_PhantomPipeline")


def test_self_test_bad_inputs_leave_the_scene_unchanged(module):
    _run(module, "test_BadInputsLeaveSceneUnchanged")
