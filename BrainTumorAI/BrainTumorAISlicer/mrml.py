"""MRML adapter: volume nodes to engine images and engine arrays to new nodes, through IJKToRAS, never by guessing.

Geometry: ``slicer.util.arrayFromVolume`` is indexed (k, j, i); the engine's ``Image.array`` is (i, j, k) with the
node's IJKToRAS matrix as its affine, so conversions transpose and nothing else. Input nodes are only read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.core.image import Image

from .terminology import SegmentSpec


def ijk_to_ras(node) -> np.ndarray:
    """The node's 4x4 IJKToRAS matrix (voxel index (i, j, k, 1) to RAS mm in the node's own frame)."""
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def source_of(node) -> Path:
    """Where a volume came from, for messages: its file when it has one, else its name."""
    storage = node.GetStorageNode()
    if storage is not None and storage.GetFileName():
        return Path(storage.GetFileName())
    return Path(node.GetName() or node.GetID())


def image_from_volume(node) -> Image:
    """A copy of a scalar volume node as an engine Image (float32, (I, J, K), affine = IJKToRAS).

    Raises InputError naming the node when it is empty, 2D, multi-component, not finite or constant.
    """
    name = f"volume '{node.GetName()}'"
    data = node.GetImageData() if node is not None else None
    if data is None or data.GetNumberOfPoints() == 0:
        raise InputError(f"The {name} holds no image data: {source_of(node)}")
    dims = data.GetDimensions()
    if min(dims) < 2:
        raise InputError(f"The {name} is 2D ({dims[0]}x{dims[1]}x{dims[2]} voxels), a 3D volume is expected: "
                         f"{source_of(node)}")
    if data.GetNumberOfScalarComponents() != 1:
        raise InputError(f"The {name} has {data.GetNumberOfScalarComponents()} components per voxel, a scalar "
                         f"volume is expected: {source_of(node)}")
    array = np.ascontiguousarray(slicer.util.arrayFromVolume(node).transpose(2, 1, 0), dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise InputError(f"The {name} holds NaN or infinite voxels: {source_of(node)}")
    if float(array.max()) == float(array.min()):
        raise InputError(f"The {name} is constant ({float(array.max())}), it holds no anatomy: {source_of(node)}")
    return Image(array, ijk_to_ras(node), source_of(node))


def check_same_grid(node, image: Image, what: str) -> None:
    """Raise InputError unless ``image`` lies on ``node``'s voxel grid (shape and IJKToRAS within 1e-3 mm)."""
    dims = tuple(node.GetImageData().GetDimensions())
    if image.shape != dims or not np.allclose(image.affine, ijk_to_ras(node), atol=1e-3):
        raise InputError(f"The {what} ({image.name}, {image.shape}) is not on the grid of volume "
                         f"'{node.GetName()}' ({dims})")


def _oriented_image(array_ijk: np.ndarray, reference_node) -> "slicer.vtkOrientedImageData":
    """An unsigned-char vtkOrientedImageData with ``reference_node``'s geometry holding ``array_ijk`` (I, J, K)."""
    image = slicer.vtkOrientedImageData()
    matrix = vtk.vtkMatrix4x4()
    reference_node.GetIJKToRASMatrix(matrix)
    image.SetImageToWorldMatrix(matrix)
    image.SetDimensions(*array_ijk.shape)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = \
        np.ascontiguousarray(array_ijk.transpose(2, 1, 0), dtype=np.uint8).ravel()
    return image


def add_volume(scene, array_ijk: np.ndarray, affine: np.ndarray, name: str):
    """A new scalar volume node holding ``array_ijk`` (I, J, K) with IJKToRAS = ``affine``."""
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", scene.GenerateUniqueName(name))
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(affine))
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array_ijk.transpose(2, 1, 0)))
    node.CreateDefaultDisplayNodes()
    return node


def add_segmentation(scene, name: str, reference_node, segments: list[tuple[SegmentSpec, np.ndarray]],
                     *, closed_surfaces: bool = True):
    """A new segmentation node on ``reference_node``'s geometry with one segment per (spec, mask (I, J, K)).

    Each segment gets its name, colour and standard terminology; closed surfaces are built so it shows in 3D.
    """
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_node)
    segmentation = node.GetSegmentation()
    for spec, mask in segments:
        segment_id = segmentation.AddEmptySegment(spec.identifier, spec.name, list(spec.colour))
        segmentation.GetSegment(segment_id).SetTerminology(spec.terminology)
        slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
            _oriented_image(mask > 0, reference_node), node, segment_id)
    if closed_surfaces:
        node.CreateClosedSurfaceRepresentation()
    return node


def add_table(scene, name: str, columns: dict[str, list]) -> "slicer.vtkMRMLTableNode":
    """A new table node; each column is strings or numbers (doubles)."""
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    table = node.GetTable()
    for title, values in columns.items():
        numeric = all(isinstance(value, (int, float)) for value in values)
        column = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
        column.SetName(title)
        for value in values:
            column.InsertNextValue(float(value) if numeric else str(value))
        table.AddColumn(column)
    node.Modified()
    return node


def add_linear_transform(scene, name: str, matrix: np.ndarray) -> "slicer.vtkMRMLLinearTransformNode":
    """A new linear transform node whose to-parent matrix is the 4x4 RAS ``matrix``."""
    node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", scene.GenerateUniqueName(name))
    node.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(np.asarray(matrix, dtype=np.float64)))
    return node


def study_item(node) -> int:
    """The subject-hierarchy item that ``node`` sits in (its parent, e.g. the study), or the scene item."""
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(node.GetScene())
    item = hierarchy.GetItemByDataNode(node)
    return hierarchy.GetItemParent(item) if item else hierarchy.GetSceneItemID()


def place_in(node, parent_item: int) -> None:
    """Put ``node``'s subject-hierarchy item under ``parent_item``, creating the item when the scene has none."""
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(node.GetScene())
    item = hierarchy.GetItemByDataNode(node)
    if not item:
        hierarchy.CreateItem(parent_item, node)
    else:
        hierarchy.SetItemParent(item, parent_item)
