"""A Slicer scene without the Slicer application (``slicer-core`` wheel): what the application would set up.

The desktop application creates the scene, a ``vtkSlicerApplicationLogic`` and the module logics and publishes them
as ``slicer.mrmlScene``, ``slicer.app`` and ``slicer.modules``. Run headless (the batch script on slicer-core, the
tests), ``start_scene()`` does the same for the modules this extension needs, so ``slicer.util`` works on real MRML.
"""

from __future__ import annotations

import types

import slicer

# attribute of slicer.modules -> (name the application logic knows the module by, logic class name)
MODULE_LOGICS = {
    "colors": ("Colors", "vtkSlicerColorLogic"),
    "volumes": ("Volumes", "vtkSlicerVolumesLogic"),
    "segmentations": ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    "subjecthierarchy": ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
}


class LoadedModule:
    """What ``slicer.modules.<name>`` holds for the code here: an object whose ``logic()`` returns the logic."""

    def __init__(self, logic) -> None:
        self._logic = logic

    def logic(self):
        return self._logic


class HeadlessApplication:
    """The part of ``slicer.app`` (qSlicerApplication) that ``slicer.util`` and this extension use headless."""

    def __init__(self, scene, app_logic) -> None:
        self._scene, self._app_logic = scene, app_logic

    def mrmlScene(self):
        return self._scene

    def applicationLogic(self):
        return self._app_logic

    def processEvents(self) -> None:
        """The application runs its Qt event loop here; headless there are no events to process."""


def start_scene():
    """Create the scene and module logics once and publish them on ``slicer``; return the scene.

    Inside the Slicer application this returns the application's scene and creates nothing.
    """
    if hasattr(slicer, "app"):
        return slicer.app.mrmlScene()
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    modules = types.SimpleNamespace()
    for attribute, (name, class_name) in MODULE_LOGICS.items():
        logic = getattr(slicer, class_name)()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(name, logic)
        setattr(modules, attribute, LoadedModule(logic))
    slicer.mrmlScene = scene
    slicer.app = HeadlessApplication(scene, app_logic)
    slicer.modules = modules
    return scene
