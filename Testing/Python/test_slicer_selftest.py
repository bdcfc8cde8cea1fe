"""BrainTumorAI.py as Slicer loads it, on slicer-core: the module's metadata, its sample-data hook and its own
self-test methods."""

from __future__ import annotations

import logging
import types
import unittest

import pytest
import slicer

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


def test_module_registers_sample_data_at_startup_and_skips_it_headless(module, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        module.BrainTumorAI(types.SimpleNamespace())  # slicer-core has no slicer.app
        module.register_sample_data()  # nor a Sample Data module
    assert caplog.text.count("the sample cases are not registered") == 2
    connected = []
    application = types.SimpleNamespace(connect=lambda signal, slot: connected.append((signal, slot)))
    monkeypatch.setattr(slicer, "app", application, raising=False)  # stands in for the desktop application
    module.BrainTumorAI(types.SimpleNamespace())
    assert connected == [("startupCompleted()", module.register_sample_data)]


def test_self_test_runs_the_phantom_through_the_whole_pipeline(module):
    _run(module, "test_PhantomPipeline")


def test_self_test_bad_inputs_leave_the_scene_unchanged(module):
    _run(module, "test_BadInputsLeaveSceneUnchanged")
