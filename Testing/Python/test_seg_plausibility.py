"""Plausibility checks of a segmentation: each check fires on a map made to fail it and names its figure, the manual
labels of the shared BraTS cases pass, and ``segment`` and the pipeline pass the warnings on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from seg_models import SOFTMAX_OUTPUTS, tiny_card, write_phantom_case, write_registry

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.image import load_image
from BrainTumorAILib.core.preprocess import foreground_mask
from BrainTumorAILib.pipeline import PipelineOptions, run_pipeline
from BrainTumorAILib.tasks.segmentation.fluid import fluid_like, fluid_mask
from BrainTumorAILib.tasks.segmentation.plausibility import check_core_in_fluid, check_segmentation, scattered_ml

SPACING = (1.0, 1.0, 1.0)


def ball(centre: tuple[int, int, int], radius: float, shape: tuple[int, int, int] = (160, 160, 160)) -> np.ndarray:
    """A sphere of ``radius`` voxels around ``centre`` on a 1 mm grid, bool (shape)."""
    x, y, z = np.meshgrid(*[np.arange(n) - c for n, c in zip(shape, centre)], indexing="ij")
    return x * x + y * y + z * z <= radius * radius


@pytest.fixture(scope="module")
def brain() -> np.ndarray:
    return ball((80, 80, 80), 66)  # 1.2 L


def test_a_compact_tumour_inside_the_brain_passes(brain):
    assert check_segmentation(ball((80, 80, 60), 20).astype(np.uint8) * 2, SPACING, brain) == []
    assert check_segmentation(np.zeros(brain.shape, np.uint8), SPACING, brain) == []


def test_a_tumour_filling_the_brain_is_named_with_its_share(brain):
    problems = check_segmentation(ball((80, 80, 80), 49).astype(np.uint8), SPACING, brain)
    assert len(problems) == 1 and "fills 41% of the 1204 mL brain" in problems[0]


def test_a_tumour_larger_than_any_is_named_without_a_brain():
    problems = check_segmentation(ball((80, 80, 80), 52).astype(np.uint8), SPACING)
    assert len(problems) == 1 and "whole tumour 589 mL" in problems[0]


def test_a_tumour_outside_the_brain_is_named_with_its_share(brain):
    problems = check_segmentation(ball((80, 80, 140), 15).astype(np.uint8), SPACING, brain)
    assert len(problems) == 1 and "lies outside the brain" in problems[0]


def test_scattered_tumour_far_from_its_largest_part_is_named_with_its_volume(brain):
    main_part, far = ball((80, 80, 50), 20), ball((80, 80, 118), 15)
    assert scattered_ml(main_part | far, SPACING) == pytest.approx(far.sum() / 1000, rel=1e-6)
    problems = check_segmentation((main_part | far).astype(np.uint8), SPACING, brain)
    assert len(problems) == 1 and f"{far.sum() / 1000:.1f} mL of the whole tumour" in problems[0]
    near = ball((80, 80, 95), 8)  # 22 mm from the main part's edge
    assert check_segmentation((main_part | near).astype(np.uint8), SPACING, brain) == []


def fluid_phantom(brain: np.ndarray, ventricle: np.ndarray) -> dict[str, np.ndarray]:
    """FLAIR and T2 (shape of ``brain``) of a brain with a fluid-filled ``ventricle``: dark on FLAIR, bright on T2,
    with noise, on two unrelated intensity scales."""
    noise = np.random.default_rng(4).normal(0, 0.05, (2, *brain.shape))
    flair = np.where(ventricle, 0.2, 1.0) + noise[0]
    t2 = np.where(ventricle, 3.0, 1.0) + noise[1]
    return {"flair": (flair * 400 * brain).astype(np.int16), "t2": (t2 * 90 * brain).astype(np.float32)}


def test_tumour_core_painted_on_fluid_is_named_with_its_volume(brain):
    ventricle = ball((80, 70, 80), 16)
    images = fluid_phantom(brain, ventricle)
    fluid = fluid_like(images["flair"], images["t2"], brain)
    assert fluid[ventricle].all() and np.count_nonzero(fluid & ~ventricle) < 0.03 * np.count_nonzero(brain)
    oedema = ball((80, 100, 80), 26) & ~ventricle
    necrosis_in_fluid = np.where(oedema, 2, 0) + np.where(ventricle, 1, 0)
    assert check_segmentation(necrosis_in_fluid.astype(np.uint8), SPACING, brain) == []
    problems = check_core_in_fluid(necrosis_in_fluid.astype(np.uint8), SPACING, fluid)
    assert len(problems) == 1 and f"{ventricle.sum() / 1000:.1f} mL (100%) of the tumour core" in problems[0]
    assert problems[0].endswith("necrosis painted on CSF, check the map")
    cleared = check_core_in_fluid(necrosis_in_fluid.astype(np.uint8), SPACING, fluid, cleared=True)
    assert cleared == [problems[0].replace("core lies on", "core lay on").replace(
        "CSF, check the map", "CSF, cleared by the fluid veto, check the map")]
    assert fluid_mask({"flair": images["flair"]}, brain) is None
    oedema_in_fluid = np.where(oedema | ventricle, 2, 0) + np.where(ball((80, 105, 80), 8), 1, 0)
    assert check_core_in_fluid(oedema_in_fluid.astype(np.uint8), SPACING, fluid) == []
    small = np.where(oedema, 2, 0) + np.where(ball((80, 70, 80), 5), 3, 0)  # 0.5 mL of enhancing tumour in fluid
    assert check_core_in_fluid(small.astype(np.uint8), SPACING, fluid) == []


def test_the_manual_labels_of_the_shared_brats_cases_pass(data_dir):
    cases = sorted((data_dir / "segmentation" / "brats2019-2021").glob("*/*_seg.nii*"))
    if not cases:
        pytest.skip("segmentation/brats2019-2021 not found")
    for path in cases:
        labels = load_image(path, label=True)
        images = {name: load_image(next(path.parent.glob(f"*_{name}.nii*"))).array for name in ("flair", "t2")}
        classes = np.select([labels.array == 1, labels.array == 2, labels.array == 4], [1, 2, 3], 0).astype(np.uint8)
        brain = foreground_mask(images["flair"])
        assert check_segmentation(classes, labels.spacing, brain) == [], path.name
        assert check_core_in_fluid(classes, labels.spacing, fluid_mask(images, brain)) == [], path.name


@pytest.fixture
def phantom_case(tmp_path, monkeypatch):
    write_registry(tmp_path, [tiny_card("tiny-softmax", ["flair", "t1c"], SOFTMAX_OUTPUTS)], monkeypatch)
    return write_phantom_case(tmp_path / "case")


def test_segment_reports_the_checks_of_the_map_it_wrote(phantom_case, tmp_path, capsys):
    out = tmp_path / "labels.nii.gz"
    assert main(["segment", "--case", str(phantom_case), "--model", "tiny-softmax", "--device", "cpu",
                 "-o", str(out)]) == 0
    captured = capsys.readouterr()
    labels, t1c = load_image(out, label=True), load_image(phantom_case / "case_t1c.nii.gz")
    expected = check_segmentation(labels.array, labels.spacing, foreground_mask(t1c.array))
    assert json.loads(captured.out)["warnings"] == expected
    shown = [line for line in captured.err.splitlines() if line.startswith("braintumorai: warning:")]
    assert shown == [f"braintumorai: warning: segmentation: {warning}" for warning in expected]


def test_the_pipeline_reports_the_segmentations_warnings(phantom_case):
    images = {name: load_image(phantom_case / f"case_{name}.nii.gz") for name in ("flair", "t1c")}
    result = run_pipeline(Case(images, "phantom"), PipelineOptions(steps=("segment",), segment_model="tiny-softmax",
                                                                   device="cpu"))
    assert [w for w in result.warnings if w.startswith("segmentation: ")] == [
        f"segmentation: {warning}" for warning in result.segmentation.warnings]
    assert result.report()["warnings"] == result.warnings
