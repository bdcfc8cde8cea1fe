"""The headless Slicer harness: real MRML from slicer-core, and the geometry contract between Slicer and the engine."""

from __future__ import annotations

import numpy as np
import pytest

from slicer_harness import scene  # noqa: F401  (fixture)

slicer = pytest.importorskip("slicer")

from BrainTumorAILib.core.image import load_image, resample_to  # noqa: E402
from BrainTumorAILib.core.phantom import make_phantom  # noqa: E402
from BrainTumorAISlicer import mrml  # noqa: E402

SAMPLES = {  # orientation of the voxel axes: case folder, file
    "LPS": ("BraTS-GLI-00001-000", "BraTS-GLI-00001-000-t1c.nii.gz"),
    "RAS": ("BraTS-MET-00110-000", "BraTS-MET-00110-000-t1c.nii.gz"),
}


def test_harness_publishes_real_module_logics(scene):
    assert slicer.mrmlScene is scene and slicer.app.mrmlScene() is scene
    assert slicer.app.applicationLogic().GetModuleLogic("Volumes") is slicer.modules.volumes.logic()
    assert isinstance(slicer.modules.segmentations.logic(), slicer.vtkSlicerSegmentationsModuleLogic)
    node = slicer.util.addVolumeFromArray(np.zeros((3, 4, 5), np.int16), name="probe")
    assert slicer.util.getNode("probe") is node


@pytest.mark.parametrize("orientation", sorted(SAMPLES))
def test_volumes_logic_ijk_to_ras_equals_engine_affine(scene, data_dir, orientation):
    folder, name = SAMPLES[orientation]
    path = data_dir / "samples" / folder / name
    node = slicer.modules.volumes.logic().AddArchetypeVolume(str(path), "sample", 0)
    assert node is not None, f"Slicer could not load {path}"
    engine = load_image(path)
    assert engine.orientation == orientation
    np.testing.assert_allclose(mrml.ijk_to_ras(node), engine.affine, atol=1e-4)
    from_node = mrml.image_from_volume(node)
    np.testing.assert_array_equal(from_node.array, engine.array)  # arrayFromVolume is (k, j, i): transposed back


def test_volumes_logic_places_an_oblique_qfac_minus_one_volume_where_the_engine_does(scene, data_dir):
    """TCGA t1c (oblique, NIfTI qfac -1): Slicer's reader stores k reversed, so IJKToRAS differs from the nibabel
    affine by a flip of k, yet every voxel lands on the same RAS point with the same value."""
    path = data_dir / "samples" / "TCGA-FG-6692" / "t1c.nii.gz"
    node = slicer.modules.volumes.logic().AddArchetypeVolume(str(path), "tcga", 0)
    engine, from_node = load_image(path), mrml.image_from_volume(node)
    assert from_node.shape == engine.shape
    slicer_to_engine = np.linalg.inv(engine.affine) @ from_node.affine
    np.testing.assert_allclose(slicer_to_engine, np.rint(slicer_to_engine), atol=1e-3)  # a pure axis flip
    np.testing.assert_array_equal(resample_to(engine, from_node).array, from_node.array)


def test_oblique_image_round_trips_through_a_volume_node(scene):
    image = make_phantom(seed=2, shape=(40, 36, 30), spacing=(2.0, 3.0, 4.0), oblique=True).images["t2"]
    node = mrml.add_volume(scene, image.array, image.affine, "oblique")
    back = mrml.image_from_volume(node)
    np.testing.assert_allclose(back.affine, image.affine, atol=1e-9)
    np.testing.assert_array_equal(back.array, image.array)
    assert back.spacing == pytest.approx(image.spacing)


def test_subject_hierarchy_stand_in_gives_each_data_node_an_item(scene):
    node = slicer.util.addVolumeFromArray(np.ones((2, 2, 2), np.uint8), name="item")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    item = hierarchy.GetItemByDataNode(node)
    assert item and hierarchy.GetItemParent(item) == hierarchy.GetSceneItemID()
    scene.RemoveNode(node)
    assert not hierarchy.GetItemByDataNode(node)
