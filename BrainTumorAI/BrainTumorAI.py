"""BrainTumorAI: skull stripping, tumour classification and tumour segmentation of brain MRI in 3D Slicer.

Module (metadata), parameter node, Widget (the panel, thin), Logic (the only MRML-aware code; no Qt, no dialogs)
and Test (the self-test on a synthetic phantom). The engine (``BrainTumorAILib``) and the Slicer-side helpers
(``BrainTumorAISlicer``) are imported inside methods, so the module loads before its dependencies are installed;
only the dependency-free names (``core.vocabulary``, the sample cases' registration) and the Logic, which imports
its engine lazily, load with it.
"""

import logging
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from BrainTumorAILib.core.vocabulary import DEVICE_CHOICES, SEQUENCES
from BrainTumorAISlicer.logic import PipelineLogic
from BrainTumorAISlicer.sample_data import register_sample_data



#
# BrainTumorAI
#


class BrainTumorAI(ScriptedLoadableModule):
    """Module metadata shown in Slicer's module list and help panel."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Brain Tumor AI")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["BrainTumorAI developers"]
        self.parent.helpText = _(
            "Skull stripping, tumour classification (glioma, meningioma, pituitary, no tumour) and tumour "
            "segmentation (necrosis, oedema, enhancing tumour) of brain MRI (FLAIR, T1, T1c, T2).<br><br>"
            "<b>Intended use: research only.</b> The models are not medical devices; they must not be used for "
            "diagnosis or treatment decisions. See each model's card in models.json for its training data and "
            "measured accuracy."
        )
        self.parent.acknowledgementText = _(
            "Built on 3D Slicer, MONAI and PyTorch. Trained on public data listed in the model cards. The sample case "
            "(Sample Data module, BrainTumorAI) is BraTS 2023 challenge data (research use under the BraTS terms), "
            "hosted by the SlicerMONAIAuto3DSeg project."
        )
        if hasattr(getattr(slicer, "app", None), "connect"):
            slicer.app.connect("startupCompleted()", register_sample_data)
        else:
            logging.info("BrainTumorAI: no Slicer application (headless), the sample cases are not registered")


#
# BrainTumorAIParameterNode
#


@parameterNodeWrapper
class BrainTumorAIParameterNode:
    """The panel's state, saved with the scene. Model ids are empty for each task's default model."""

    flairVolume: vtkMRMLScalarVolumeNode
    t1Volume: vtkMRMLScalarVolumeNode
    t1cVolume: vtkMRMLScalarVolumeNode
    t2Volume: vtkMRMLScalarVolumeNode
    device: Annotated[str, Choice(list(DEVICE_CHOICES))] = "auto"
    testTimeAugmentation: bool = False
    stripModel: str = ""
    classifyModel: str = ""
    segmentModel: str = ""
    outputSegmentation: vtkMRMLSegmentationNode


#
# BrainTumorAIWidget
#


class BrainTumorAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: inputs, models, buttons, progress and results. No ML and no MRML editing here."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._timer = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/BrainTumorAI.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = BrainTumorAILogic()

        self._timer = qt.QTimer()
        self._timer.setInterval(250)
        self._timer.connect("timeout()", self.onTimer)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.stripButton.connect("clicked(bool)", lambda: self.onRun(("strip",)))
        self.ui.classifyButton.connect("clicked(bool)", lambda: self.onRun(("classify",)))
        self.ui.segmentButton.connect("clicked(bool)", lambda: self.onRun(("segment",)))
        self.ui.runAllButton.connect("clicked(bool)", lambda: self.onRun(("strip", "classify", "segment")))
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.autoFillButton.connect("clicked(bool)", self.onAutoFill)
        self.ui.show3DButton.connect("clicked(bool)", self.onShow3D)
        for combo, key in self._modelCombos():
            combo.connect("currentIndexChanged(int)", lambda index, combo=combo, key=key: self.onModel(combo, key))
        self.populateModels()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job:
            self._job.process.cleanup()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not any(getattr(self._parameterNode, f"{sequence}Volume") for sequence in SEQUENCES):
            self.onAutoFill()

    def setParameterNode(self, parameterNode: Optional[BrainTumorAIParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
            for combo, key in self._modelCombos():
                combo.setCurrentIndex(max(combo.findData(getattr(self._parameterNode, key)), 0))
            self.updateButtons()

    def _modelCombos(self):
        return ((self.ui.stripModelComboBox, "stripModel"), (self.ui.classifyModelComboBox, "classifyModel"),
                (self.ui.segmentModelComboBox, "segmentModel"))

    def populateModels(self) -> None:
        """Fill each task's model list from models.json (first entry: the task's default)."""
        for combo, task in ((self.ui.stripModelComboBox, "skull_stripping"),
                            (self.ui.classifyModelComboBox, "classification"),
                            (self.ui.segmentModelComboBox, "segmentation")):
            combo.clear()
            combo.addItem(_("Default"), "")
            try:
                models = self.logic.availableModels(task)
            except Exception as error:  # dependencies not installed yet: the first run installs them
                logging.info(f"BrainTumorAI: model list unavailable until dependencies are installed ({error})")
                models = []
            for modelId, title in models:
                combo.addItem(f"{title} ({modelId})", modelId)

    def onModel(self, combo, key: str) -> None:
        if self._parameterNode:
            setattr(self._parameterNode, key, combo.currentData or "")

    def onAutoFill(self) -> None:
        """Pick FLAIR / T1 / T1c / T2 volumes by their names (empty selectors only)."""
        if not self._parameterNode:
            return
        volumes = slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
        for sequence, node in self.logic.assignInputs(volumes).items():
            if not getattr(self._parameterNode, f"{sequence}Volume"):
                setattr(self._parameterNode, f"{sequence}Volume", node)

    def updateButtons(self, caller=None, event=None) -> None:
        running = self._job is not None
        haveInput = bool(self._parameterNode and self.logic.inputsFromParameterNode(self._parameterNode))
        for button in (self.ui.stripButton, self.ui.classifyButton, self.ui.segmentButton, self.ui.runAllButton):
            button.enabled = haveInput and not running
        self.ui.cancelButton.enabled = running
        self.ui.show3DButton.enabled = bool(self._parameterNode and self._parameterNode.outputSegmentation)

    def onRun(self, steps) -> None:
        from BrainTumorAISlicer.dependencies import ensure_installed

        with slicer.util.tryWithErrorDisplay(_("BrainTumorAI could not start."), waitCursor=True):
            ensure_installed(prompt=True)
            if self.ui.segmentModelComboBox.count == 1:  # listed before the dependencies were installed
                self.populateModels()
            options = self.logic.options(self._parameterNode, steps)
            self._job = self.logic.startProcess(self.logic.inputsFromParameterNode(self._parameterNode), options)
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = _("Starting...")
            self._timer.start()
        self.updateButtons()

    def onTimer(self) -> None:
        state = self._job.process.poll()
        self.ui.progressBar.value = int(state.percent)
        self.ui.statusLabel.text = f"{state.percent:.0f}%  {state.step}"
        if state.running:
            return
        self._timer.stop()
        job, self._job = self._job, None
        try:
            if state.cancelled:
                self.ui.statusLabel.text = _("Cancelled.")
            elif state.succeeded:
                with slicer.util.tryWithErrorDisplay(_("Results could not be loaded."), waitCursor=True):
                    results = self.logic.finishProcess(job)
                    self.showResults(results)
            else:
                self.ui.statusLabel.text = _("Failed.")
                slicer.util.errorDisplay(state.error or _("The pipeline failed."), detailedText="\n".join(state.log))
        finally:
            job.process.cleanup()
            self.updateButtons()

    def onCancel(self) -> None:
        if self._job:
            self._job.process.cancel()

    def showResults(self, results) -> None:
        """Show the class with its shares, region volumes and timings; put the overlays on the views."""
        if results.segmentation:
            self._parameterNode.outputSegmentation = results.segmentation
        self.ui.resultsBrowser.setHtml(self.logic.summaryHtml(results.report))
        self.ui.statusLabel.text = _("Done.")
        reference = self.logic.inputsFromParameterNode(self._parameterNode).get(results.report.get("reference"))
        slicer.util.setSliceViewerLayers(background=reference or results.stripped, fit=True)

    def onShow3D(self) -> None:
        segmentation = self._parameterNode.outputSegmentation
        if segmentation:
            segmentation.CreateClosedSurfaceRepresentation()
            segmentation.GetDisplayNode().SetVisibility3D(True)
            slicer.app.layoutManager().threeDWidget(0).threeDView().resetFocalPoint()


#
# BrainTumorAILogic
#


class BrainTumorAILogic(ScriptedLoadableModuleLogic, PipelineLogic):
    """The Logic (implemented, Qt-free, in ``BrainTumorAISlicer.logic.PipelineLogic``) and its parameter node."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return BrainTumorAIParameterNode(super().getParameterNode())

    @staticmethod
    def inputsFromParameterNode(parameterNode) -> dict:
        return {sequence: node for sequence in SEQUENCES
                if (node := getattr(parameterNode, f"{sequence}Volume")) is not None}

    @staticmethod
    def options(parameterNode, steps):
        from BrainTumorAILib.pipeline import PipelineOptions

        return PipelineOptions(
            steps=tuple(steps), strip_model=parameterNode.stripModel or None,
            classify_model=parameterNode.classifyModel or None, segment_model=parameterNode.segmentModel or None,
            tta=parameterNode.testTimeAugmentation or None, device=parameterNode.device,
        )

    @staticmethod
    def summaryHtml(report: dict) -> str:
        """The result area's text: warnings, class with its reason and shares, region volumes in mL, registration,
        time per step."""
        import html

        lines = [f"<b style='color:#b35900'>Warning:</b> {html.escape(text)}" for text in report.get("warnings") or []]
        classification = report.get("classification")
        if classification:
            shares = ", ".join(f"{label} {share:.0%}" for label, share in classification.get("shares", {}).items())
            lines.append(f"<b>Class:</b> {classification.get('label')} ({shares})")
            if classification.get("reason"):
                lines.append(f"<i>{html.escape(str(classification['reason']))}</i>")
        volumes = report.get("volumes_ml")
        if volumes:
            lines.append("<b>Volumes (mL):</b> " + ", ".join(f"{region} {value:.1f}"
                                                             for region, value in volumes.items()))
        registered = [record for record in report.get("registration") or [] if record.get("action") == "registered"]
        if registered:
            lines.append("<b>Co-registered:</b> " + ", ".join(
                f"{r['sequence']} ({r.get('rotation_deg', 0):.1f} deg, {r.get('translation_mm', 0):.1f} mm)"
                for r in registered))
        timings = report.get("timings_s") or {}
        lines.append("<b>Time (s):</b> " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in timings.items()))
        lines.append("<i>Research use only.</i>")
        return "<br>".join(lines)




#
# BrainTumorAITest
#


class BrainTumorAITest(ScriptedLoadableModuleTest):
    """Self-test on a synthetic phantom (no network): the full pipeline through the Logic, and bad inputs."""

    def setUp(self):
        slicer.mrmlScene.Clear(0)

    def runTest(self):
        self.setUp()
        self.test_PhantomPipeline()
        self.setUp()
        self.test_BadInputsLeaveSceneUnchanged()

    def _phantomVolumes(self, phantom):
        from BrainTumorAISlicer.mrml import add_volume

        return {sequence: add_volume(slicer.mrmlScene, image.array, image.affine, f"phantom-{sequence}")
                for sequence, image in phantom.images.items()}

    def test_PhantomPipeline(self):
        import numpy as np

        from BrainTumorAILib.core.labels import regions
        from BrainTumorAILib.core.phantom import make_phantom
        from BrainTumorAILib.pipeline import PipelineOptions
        from BrainTumorAISlicer.mrml import ijk_to_ras
        from BrainTumorAISlicer.terminology import tumour_segments

        self.delayDisplay("Phantom pipeline through the Logic")
        phantom = make_phantom(seed=11, shape=(80, 80, 64), spacing=(2.4, 2.4, 2.4))
        inputs = self._phantomVolumes(phantom)
        before = {sequence: slicer.util.arrayFromVolume(node).copy() for sequence, node in inputs.items()}
        results = BrainTumorAILogic().process(inputs, PipelineOptions(device="cpu"), name="phantom")
        for sequence, node in inputs.items():
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), before[sequence])

        reference = inputs[results.report["reference"]]
        segmentation = results.segmentation.GetSegmentation()
        specs = tumour_segments()
        self.assertEqual([segmentation.GetNthSegment(n).GetName() for n in range(segmentation.GetNumberOfSegments())],
                         [spec.name for spec in specs.values()])
        predicted = np.zeros(phantom.labels.shape, np.uint8)
        for cls, spec in specs.items():
            segment = segmentation.GetSegment(spec.identifier)
            entry = slicer.vtkSlicerTerminologyEntry()
            self.assertTrue(slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(
                segment.GetTerminology(), entry))
            self.assertEqual(entry.GetTypeObject().GetCodeMeaning(), spec.terminology.split("~")[2].split("^")[2])
            labelmap = results.segmentation.GetBinaryLabelmapInternalRepresentation(spec.identifier)
            matrix = vtk.vtkMatrix4x4()
            labelmap.GetImageToWorldMatrix(matrix)
            np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(matrix), ijk_to_ras(reference), atol=1e-6)
            surface = results.segmentation.GetClosedSurfaceInternalRepresentation(spec.identifier)
            self.assertGreater(surface.GetNumberOfPoints(), 0, f"empty closed surface for {spec.name}")
            mask = slicer.util.arrayFromSegmentBinaryLabelmap(results.segmentation, spec.identifier, reference)
            predicted[mask.transpose(2, 1, 0) > 0] = cls

        truth, found = regions(phantom.labels.array), regions(predicted)
        dice = 2 * np.count_nonzero(truth["WT"] & found["WT"]) / (truth["WT"].sum() + found["WT"].sum())
        ratio = found["WT"].sum() / truth["WT"].sum()
        self.delayDisplay(f"Whole tumour: Dice {dice:.3f} to the phantom truth, volume {ratio:.2f} x the truth")
        self.assertGreater(dice, 0.3)  # the BraTS-trained model meets a synthetic head; random weights give < 0.1
        voxel_ml = float(np.prod(phantom.labels.spacing)) / 1000.0
        self.assertAlmostEqual(results.report["volumes_ml"]["WT"], found["WT"].sum() * voxel_ml, delta=0.01)
        # a wide range, yet it catches unit and voxel-size errors (factors of 8 or 1000)
        self.assertTrue(0.2 < ratio < 5.0, f"whole-tumour volume {ratio:.2f} x the truth")
        self.assertIsNotNone(results.brain)
        self.assertIsNotNone(results.stripped)
        self.assertIn(results.classification.GetAttribute("BrainTumorAI.label"),
                      [results.classification.GetTable().GetValue(row, 0).ToString()
                       for row in range(results.classification.GetNumberOfRows())])
        self.delayDisplay("Test passed")

    def test_BadInputsLeaveSceneUnchanged(self):
        from BrainTumorAILib.core.errors import BrainTumorAIError
        from BrainTumorAILib.core.phantom import make_phantom
        from BrainTumorAILib.pipeline import PipelineOptions
        from BrainTumorAISlicer.mrml import add_volume

        self.delayDisplay("Bad inputs give a message and leave the scene as it was")
        phantom = make_phantom(seed=3, shape=(40, 40, 32), spacing=(4.0, 4.0, 4.0))
        inputs = self._phantomVolumes(phantom)
        flat = add_volume(slicer.mrmlScene, phantom.images["flair"].array[:, :, 10:11], phantom.images["flair"].affine,
                          "flat-flair")
        shifted = phantom.images["t2"].affine.copy()
        shifted[:3, 3] += 1000.0
        far = add_volume(slicer.mrmlScene, phantom.images["t2"].array, shifted, "far-t2")
        cases = {
            "missing": ({"t1": inputs["t1"]}, "lacks"),
            "2D": ({**inputs, "flair": flat}, "2D"),
            "no overlap": ({**inputs, "t2": far}, "overlap"),
        }
        logic = BrainTumorAILogic()
        for what, (bad, expected) in cases.items():
            before = [slicer.mrmlScene.GetNthNode(n).GetID() for n in range(slicer.mrmlScene.GetNumberOfNodes())]
            with self.assertRaises(BrainTumorAIError, msg=what) as raised:
                logic.process(bad, PipelineOptions(device="cpu"))
            self.assertIn(expected, str(raised.exception), what)
            after = [slicer.mrmlScene.GetNthNode(n).GetID() for n in range(slicer.mrmlScene.GetNumberOfNodes())]
            self.assertEqual(before, after, what)
        self.delayDisplay("Test passed")
