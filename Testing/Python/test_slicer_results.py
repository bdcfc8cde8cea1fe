"""Engine results become scene nodes exactly on the reference volume: segments, terminology, hierarchy, files."""

from __future__ import annotations

import numpy as np
import pytest

import slicer_harness
from slicer_harness import scene  # noqa: F401  (fixture)

slicer = pytest.importorskip("slicer")
vtk = pytest.importorskip("vtk")

from BrainTumorAILib.core.errors import InputError  # noqa: E402
from BrainTumorAILib.core.image import Image  # noqa: E402
from BrainTumorAILib.core.phantom import make_phantom  # noqa: E402
from BrainTumorAISlicer import mrml  # noqa: E402
from BrainTumorAISlicer.results import EngineOutputs, add_result_nodes  # noqa: E402
from BrainTumorAISlicer.terminology import tumour_segments  # noqa: E402

REPORT = {"reference": "t1c", "classification": {"label": "glioma", "shares": {"glioma": 0.7, "meningioma": 0.2,
                                                                              "notumor": 0.05, "pituitary": 0.05}}}


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=5, shape=(48, 44, 36), spacing=(3.0, 3.2, 3.5), oblique=True)


def _reference_in_study(scene, phantom):
    node = mrml.add_volume(scene, phantom.images["t1c"].array, phantom.images["t1c"].affine, "case-t1c")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "patient"), "study")
    hierarchy.SetItemParent(hierarchy.GetItemByDataNode(node), study)
    return node, study


def _outputs(phantom):
    t1c = phantom.images["t1c"]
    return EngineOutputs(dict(REPORT), phantom.labels, phantom.brain_mask,
                         t1c.with_array(t1c.array * phantom.brain_mask.array))


def test_tumour_segments_match_the_engine_classes_voxel_for_voxel_on_an_oblique_grid(scene, phantom):
    reference, _ = _reference_in_study(scene, phantom)
    nodes = add_result_nodes(_outputs(phantom), reference, "case")
    segmentation = nodes.segmentation.GetSegmentation()
    assert segmentation.GetNumberOfSegments() == 3
    for cls, spec in tumour_segments().items():
        segment = segmentation.GetSegment(spec.identifier)
        assert segment.GetName() == spec.name
        assert segment.GetColor() == pytest.approx(spec.colour)
        labelmap = nodes.segmentation.GetBinaryLabelmapInternalRepresentation(spec.identifier)
        matrix = vtk.vtkMatrix4x4()
        labelmap.GetImageToWorldMatrix(matrix)
        np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(matrix), phantom.labels.affine, atol=1e-9)
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(nodes.segmentation, spec.identifier, reference)
        np.testing.assert_array_equal(mask.transpose(2, 1, 0) > 0, phantom.labels.array == cls)
        assert nodes.segmentation.GetClosedSurfaceInternalRepresentation(spec.identifier).GetNumberOfPoints() > 0


def test_segments_carry_standard_terminology_codes(scene, phantom):
    reference, _ = _reference_in_study(scene, phantom)
    segmentation = add_result_nodes(_outputs(phantom), reference, "case").segmentation.GetSegmentation()
    expected = {"necrosis": "6574001", "edema": "79654002", "enhancing": "86049000"}
    for identifier, type_code in expected.items():
        entry = slicer.vtkSlicerTerminologyEntry()
        assert slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(
            segmentation.GetSegment(identifier).GetTerminology(), entry)
        assert entry.GetCategoryObject().GetCodeValue() == "49755003"  # Morphologically Altered Structure
        assert entry.GetTypeObject().GetCodeValue() == type_code
        assert entry.GetTypeObject().GetCodingSchemeDesignator() == "SCT"
        assert entry.GetRegionObject().GetCodeValue() == "12738006"  # Brain


def test_every_result_node_sits_in_the_reference_study_and_inputs_are_untouched(scene, phantom):
    reference, study = _reference_in_study(scene, phantom)
    before = slicer.util.arrayFromVolume(reference).copy()
    nodes = add_result_nodes(_outputs(phantom), reference, "case")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert len(nodes.nodes()) == 4
    for node in nodes.nodes():
        assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)) == study, node.GetName()
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(reference), before)
    np.testing.assert_allclose(mrml.ijk_to_ras(nodes.stripped), mrml.ijk_to_ras(reference))
    brain = nodes.brain.GetSegmentation()
    assert brain.GetNumberOfSegments() == 1 and brain.GetNthSegment(0).GetName() == "Brain"
    table = nodes.classification
    rows = {table.GetCellText(row, 0): float(table.GetCellText(row, 1)) for row in range(table.GetNumberOfRows())}
    assert rows == pytest.approx(REPORT["classification"]["shares"])
    assert table.GetAttribute("BrainTumorAI.label") == "glioma"


def test_outputs_off_the_reference_grid_add_nothing(scene, phantom):
    reference, _ = _reference_in_study(scene, phantom)
    outputs = _outputs(phantom)
    shifted = phantom.brain_mask.affine.copy()
    shifted[:3, 3] += 5.0
    outputs.brain_mask = Image(phantom.brain_mask.array, shifted)
    before = slicer_harness.node_ids(scene)
    with pytest.raises(InputError, match="not on the grid"):
        add_result_nodes(outputs, reference, "case")
    assert slicer_harness.node_ids(scene) == before


def test_segmentation_written_as_seg_nrrd_reloads_with_names_terminology_and_geometry(scene, phantom, tmp_path):
    reference, _ = _reference_in_study(scene, phantom)
    segmentation = add_result_nodes(_outputs(phantom), reference, "case").segmentation
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(tmp_path / "case.seg.nrrd"))
    assert storage.WriteData(segmentation)
    loaded = slicer.modules.segmentations.logic().LoadSegmentationFromFile(str(tmp_path / "case.seg.nrrd"), False)
    for identifier in ("necrosis", "edema", "enhancing"):
        original, reloaded = (node.GetSegmentation().GetSegment(identifier) for node in (segmentation, loaded))
        assert reloaded.GetName() == original.GetName()
        assert reloaded.GetTerminology() == original.GetTerminology()
        np.testing.assert_array_equal(slicer.util.arrayFromSegmentBinaryLabelmap(loaded, identifier, reference),
                                      slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, identifier, reference))


def test_each_co_registered_series_becomes_a_transform_node_and_no_volume_moves(scene, phantom):
    reference, study = _reference_in_study(scene, phantom)
    matrix = np.eye(4)
    matrix[:3, :3] = [[0.99, -0.1, 0.0], [0.1, 0.99, 0.0], [0.0, 0.0, 1.0]]
    matrix[:3, 3] = (4.0, -2.5, 1.0)
    outputs = _outputs(phantom)
    outputs.report["registration"] = [{"sequence": "t1c", "action": "reference"},
                                      {"sequence": "flair", "action": "registered",
                                       "moving_to_reference_ras": matrix.tolist()},
                                      {"sequence": "t2", "action": "skipped"}]
    before = slicer.util.arrayFromVolume(reference).copy()
    nodes = add_result_nodes(outputs, reference, "case")
    assert [node.GetName() for node in nodes.transforms] == ["case flair to t1c"]
    to_parent = vtk.vtkMatrix4x4()
    nodes.transforms[0].GetMatrixTransformToParent(to_parent)
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(to_parent), matrix, atol=1e-12)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(nodes.transforms[0])) == study
    assert reference.GetParentTransformNode() is None
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(reference), before)
