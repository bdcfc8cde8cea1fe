"""Headless Slicer for tests: a real MRML scene from slicer-core plus stand-ins for Slicer's application layer.

Real: the scene, ``vtkSlicerApplicationLogic`` and the Volumes, Segmentations, SubjectHierarchy and Colors module
logics, registered as the application registers them (``BrainTumorAISlicer.headless.start_scene``, which the batch
script uses too), so ``slicer.util`` works on real MRML.

Stand-ins, for the application layer only (never for MRML), each saying what it replaces:
- ``slicer.ScriptedLoadableModule``, ``slicer.parameterNodeWrapper``, ``slicer.i18n``, ``qt``, ``ctk``: Python
  modules that only the desktop application ships; they let ``BrainTumorAI.py`` import and its Logic and Test run.
  No widget is built with them (the .ui file is checked with PySide6 instead).
- ``SubjectHierarchyItems``: the application's subject-hierarchy plugin logic, which gives every data node added
  to the scene an item in the hierarchy.

Use the ``scene`` fixture (``from slicer_harness import scene``): a cleared scene for each test; or call
``install()`` (idempotent), ``reset()`` and ``load_module()`` (imports BrainTumorAI.py) directly.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import types
import unittest
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO_ROOT / "BrainTumorAI"
if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))  # as Slicer puts a scripted module's folder on sys.path

import slicer  # noqa: E402
import vtk  # noqa: E402

from BrainTumorAISlicer.headless import start_scene  # noqa: E402

_installed: dict = {}


def install() -> "slicer.vtkMRMLScene":
    """The headless scene with module logics and the application-layer stand-ins; the same scene on every call."""
    if not _installed:
        scene = start_scene()
        _installed["scene"] = scene
        _installed["items"] = SubjectHierarchyItems(scene)
        _install_application_modules()
    return _installed["scene"]


def reset() -> "slicer.vtkMRMLScene":
    """Remove every data node, as File > Close Scene does (singletons and default colour tables stay)."""
    scene = install()
    scene.Clear(0)
    return scene


@pytest.fixture
def scene():
    """The headless scene, cleared of the previous test's nodes."""
    return reset()


def node_ids(scene=None) -> list[str]:
    """IDs of every node in the scene, in scene order."""
    scene = scene or install()
    return [scene.GetNthNode(index).GetID() for index in range(scene.GetNumberOfNodes())]


def load_module() -> types.ModuleType:
    """Import ``BrainTumorAI/BrainTumorAI.py`` as Slicer does, with the stand-ins in place."""
    install()
    if "BrainTumorAI" not in sys.modules:
        spec = importlib.util.spec_from_file_location("BrainTumorAI", MODULE_DIR / "BrainTumorAI.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["BrainTumorAI"] = module
        spec.loader.exec_module(module)
    return sys.modules["BrainTumorAI"]


class SubjectHierarchyItems:
    """Stands in for qSlicerSubjectHierarchyPluginLogic: an item for each data node added, removed with it."""

    def __init__(self, scene) -> None:
        scene.AddObserver(slicer.vtkMRMLScene.NodeAddedEvent, self._on_node_added)
        scene.AddObserver(slicer.vtkMRMLScene.NodeAboutToBeRemovedEvent, self._on_node_removed)

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _on_node_added(self, scene, event, node) -> None:
        is_data = node.IsA("vtkMRMLDisplayableNode") or node.IsA("vtkMRMLTableNode")
        if is_data and not node.GetHideFromEditors():
            hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
            if not hierarchy.GetItemByDataNode(node):
                hierarchy.CreateItem(hierarchy.GetSceneItemID(), node)

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _on_node_removed(self, scene, event, node) -> None:
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        item = hierarchy.GetItemByDataNode(node) if hierarchy is not None and node is not hierarchy else 0
        if item:
            hierarchy.RemoveItem(item, False, False)


class ScriptedLoadableModule:
    """Stands in for slicer.ScriptedLoadableModule.ScriptedLoadableModule: keeps the metadata on ``parent``."""

    def __init__(self, parent) -> None:
        self.parent = parent

    def resourcePath(self, filename: str) -> str:
        return str(MODULE_DIR / "Resources" / filename)


class ScriptedLoadableModuleWidget(ScriptedLoadableModule):
    """Stands in for slicer.ScriptedLoadableModule.ScriptedLoadableModuleWidget; never set up headless."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)


class ScriptedLoadableModuleLogic:
    """Stands in for slicer.ScriptedLoadableModule.ScriptedLoadableModuleLogic and its parameter-node lookup."""

    def __init__(self, parent=None) -> None:
        self.moduleName = type(self).__name__[: -len("Logic")]

    def getParameterNode(self):
        """As Slicer does: the scene's singleton vtkMRMLScriptedModuleNode tagged with the module name."""
        scene = slicer.mrmlScene
        node = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetName(scene.GenerateUniqueName(self.moduleName))
            node.SetSingletonTag(self.moduleName)
            node.SetModuleName(self.moduleName)
            scene.AddNode(node)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    """Stands in for slicer.ScriptedLoadableModule.ScriptedLoadableModuleTest: ``delayDisplay`` prints."""

    def delayDisplay(self, message: str, requestedDelay: int = 0) -> None:
        print(message)


@dataclasses.dataclass
class Choice:
    """Stands in for slicer.parameterNodeWrapper.Choice (the allowed values of a parameter)."""

    choices: list


def parameterNodeWrapper(cls: type) -> type:
    """Stands in for slicer.parameterNodeWrapper.parameterNodeWrapper: plain attributes (unset nodes are None)
    over the wrapped vtkMRMLScriptedModuleNode, without the typed serialisation and GUI binding that need Qt."""

    def __init__(self, parameterNode) -> None:
        self.parameterNode = parameterNode
        for name in cls.__annotations__:
            setattr(self, name, getattr(cls, name, None))

    cls.__init__ = __init__
    return cls


def _install_application_modules() -> None:
    scripted = types.ModuleType("slicer.ScriptedLoadableModule", "Stand-in: Slicer's scripted-module base classes")
    for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                ScriptedLoadableModuleTest):
        setattr(scripted, cls.__name__, cls)
    wrapper = types.ModuleType("slicer.parameterNodeWrapper", "Stand-in: the typed parameter node binds Qt widgets")
    wrapper.parameterNodeWrapper = parameterNodeWrapper
    wrapper.Choice = Choice
    i18n = types.ModuleType("slicer.i18n", "Stand-in: Slicer's Qt translation; text passes unchanged")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    for name, module in (("slicer.ScriptedLoadableModule", scripted), ("slicer.parameterNodeWrapper", wrapper),
                         ("slicer.i18n", i18n)):
        sys.modules.setdefault(name, module)
        setattr(slicer, name.split(".", 1)[1], sys.modules[name])
    for name, what in (("qt", "PythonQt's qt"), ("ctk", "PythonQt's ctk")):
        sys.modules.setdefault(name, types.ModuleType(name, f"Stand-in for {what}: no widget is built headless"))
