"""An offscreen 3D picture of segmentation nodes drawn by Slicer's own 3D displayable managers (no window needed).

Headless (no X display), VTK renders through EGL (``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow``, Mesa llvmpipe
on a CPU machine); inside the Slicer application VTK's default offscreen window is used.
"""

from __future__ import annotations

import os

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

DISPLAYABLE_MANAGERS = ("vtkMRMLCameraDisplayableManager", "vtkMRMLViewDisplayableManager",
                        "vtkMRMLSegmentationsDisplayableManager3D")
# camera direction from the focal point, in RAS: anterior, left of the midline, above
VIEW_DIRECTION = np.array([-0.45, 1.0, 0.55])


def _use_egl_when_headless() -> None:
    if os.name != "nt" and not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def render_3d(segmentation_nodes: list, size: tuple[int, int] = (640, 640)) -> np.ndarray:
    """RGB picture (rows, columns, 3) uint8 of the nodes' closed surfaces seen from the anterior-left-superior."""
    _use_egl_when_headless()
    scene = segmentation_nodes[0].GetScene()
    for node in segmentation_nodes:
        node.CreateClosedSurfaceRepresentation()
    view = scene.AddNewNodeByClass("vtkMRMLViewNode", "BrainTumorAI render view")
    window = vtk.vtkRenderWindow()
    try:
        view.SetBoxVisible(False)
        view.SetAxisLabelsVisible(False)
        window.SetOffScreenRendering(True)
        window.SetSize(*size)
        renderer = vtk.vtkRenderer()
        window.AddRenderer(renderer)
        interactor = vtk.vtkRenderWindowInteractor()
        interactor.SetRenderWindow(window)
        factory = slicer.vtkMRMLThreeDViewDisplayableManagerFactory.GetInstance()
        for name in DISPLAYABLE_MANAGERS:
            if not factory.IsDisplayableManagerRegistered(name):
                factory.RegisterDisplayableManager(name)
        factory.SetMRMLApplicationLogic(slicer.app.applicationLogic())
        managers = factory.InstantiateDisplayableManagers(renderer)
        managers.SetMRMLDisplayableNode(view)
        _aim_camera(renderer, segmentation_nodes)
        window.Render()
        grabber = vtk.vtkWindowToImageFilter()
        grabber.SetInput(window)
        grabber.Update()
        image = grabber.GetOutput()
        width, height, _ = image.GetDimensions()
        pixels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
        return np.ascontiguousarray(pixels[::-1, :, :3])  # VTK rows start at the bottom
    finally:
        window.Finalize()
        scene.RemoveNode(view)


def _aim_camera(renderer: vtk.vtkRenderer, nodes: list) -> None:
    bounds = np.zeros(6)
    all_bounds = []
    for node in nodes:
        node.GetRASBounds(bounds)
        if bounds[1] >= bounds[0]:
            all_bounds.append(bounds.copy())
    camera = renderer.GetActiveCamera()
    if all_bounds:
        stacked = np.array(all_bounds)
        low, high = stacked[:, 0::2].min(axis=0), stacked[:, 1::2].max(axis=0)
        centre = (low + high) / 2
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre + VIEW_DIRECTION / np.linalg.norm(VIEW_DIRECTION) * 500.0))
        camera.SetViewUp(0, 0, 1)
    renderer.ResetCamera()
    camera.Zoom(1.25)
