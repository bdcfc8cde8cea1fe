"""The skull-stripping guard: each plausibility check fires on a mask made to fail it, a learned mask that fails
gives way to the classical one, ``strip_skull`` catches and replaces a real AOMIC brain mask moved into the air in
front of the face, the ``strip`` command and the pipeline pass the warnings on, and real stripped BraTS brains and a
thick-slice clinical mask pass. Generated masks lie on a small 3 mm grid; the AOMIC head is taken at 2 mm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from BrainTumorAILib.cli import main
from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.image import Image, load_image, save_image
from BrainTumorAILib.core.phantom import phantom_affine
from BrainTumorAILib.core.preprocess import foreground_mask
from BrainTumorAILib.pipeline import PipelineOptions, run_pipeline
from BrainTumorAILib.tasks import stripping
from BrainTumorAILib.tasks.stripping import guard, strip_skull
from BrainTumorAILib.tasks.stripping.guard import check_mask, choose_mask, disagreement
from BrainTumorAILib.tasks.stripping.postprocess import dice, solid_component

SHAPE, SPACING = (80, 80, 64), 3.0  # 240 x 240 x 192 mm, RAS
HEAD_MM, BRAIN_MM = (80.0, 95.0, 85.0), (62.0, 78.0, 60.0)  # semi-axes: a 2.7 L head, a 1.2 L brain


def ellipsoid(semi_axes_mm: tuple[float, float, float], centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
              ) -> np.ndarray:
    """An ellipsoid on the test grid (centred on the grid's middle), bool SHAPE."""
    axes = [(np.arange(n) - (n - 1) / 2) * SPACING - c for n, c in zip(SHAPE, centre_mm)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    a, b, c = semi_axes_mm
    return (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1.0


def head_image(centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Image:
    """A head: a brain at 1.0 inside skull and scalp at 0.5, their outer 3 mm at 0.1 (partial volume), air 0."""
    inner = ellipsoid(tuple(a - SPACING for a in HEAD_MM), centre_mm)  # type: ignore[arg-type]
    volume = np.where(ellipsoid(BRAIN_MM, centre_mm), 1.0, np.where(inner, 0.5, np.where(
        ellipsoid(HEAD_MM, centre_mm), 0.1, 0.0)))
    return Image(volume.astype(np.float32), phantom_affine(SHAPE, (SPACING,) * 3))


def as_mask(image: Image, inside: np.ndarray) -> Image:
    return image.with_array(inside.astype(np.uint8))


@pytest.fixture(scope="module")
def head() -> Image:
    return head_image()


def test_a_plausible_brain_passes_every_check(head):
    brain = as_mask(head, ellipsoid(BRAIN_MM))
    assert check_mask(brain, head) == [] and disagreement(brain, brain) is None


@pytest.mark.parametrize("semi_axes", [(35.0, 40.0, 35.0), (78.0, 93.0, 83.0)])  # 0.2 L and 2.5 L
def test_a_brain_too_small_or_too_large_is_named_with_its_volume(head, semi_axes):
    inside = ellipsoid(semi_axes)
    problems = check_mask(as_mask(head, inside), head)
    volume = f"brain volume {np.count_nonzero(inside) * SPACING ** 3 / 1000:.0f} mL"
    assert problems == [f"{volume} is outside the plausible 700-2200 mL"]


def test_a_brain_cut_by_the_field_of_view_is_named_with_its_face():
    raised = head_image((0.0, 0.0, 60.0))  # the top 35 mm of the brain lie above the volume
    problems = check_mask(as_mask(raised, ellipsoid(BRAIN_MM, (0.0, 0.0, 60.0))), raised)
    assert len(problems) == 1 and problems[0].startswith("the mask fills 67% of its cross-section on the superior face")


def test_a_brain_partly_out_of_the_head_is_named_with_its_share(head):
    problems = check_mask(as_mask(head, ellipsoid(BRAIN_MM, (50.0, 0.0, 0.0))), head)
    assert len(problems) == 1 and problems[0].startswith("23% of the mask") and "outside the head" in problems[0]


def test_a_brain_that_disagrees_with_the_classical_mask_is_named_with_the_dice(head):
    brain = as_mask(head, ellipsoid(BRAIN_MM))
    shifted = as_mask(head, ellipsoid(BRAIN_MM, (27.0, 0.0, 0.0)))
    assert disagreement(brain, shifted).startswith("Dice 0.68 with the classical mask")
    assert disagreement(brain, brain) is None


def test_a_failing_learned_mask_falls_back_to_a_passing_classical_one(head):
    good, huge = as_mask(head, ellipsoid(BRAIN_MM)), as_mask(head, ellipsoid((78.0, 93.0, 83.0)))
    mask, method, warnings = choose_mask(huge, good, {"learned": check_mask(huge, head),
                                                      "classical": check_mask(good, head)})
    assert mask is good and method == "classical"
    assert warnings[0].startswith("learned mask: brain volume") and "used instead" in warnings[-1]
    assert choose_mask(good, huge, {"learned": [], "classical": ["too large"]}) == (good, "learned", [])


def test_when_both_fail_the_mask_with_fewer_failures_is_kept_learned_on_a_tie(head):
    learned, classical = as_mask(head, ellipsoid(BRAIN_MM)), as_mask(head, ellipsoid((35.0, 40.0, 35.0)))
    mask, method, warnings = choose_mask(learned, classical, {"learned": ["a", "b"], "classical": ["c"]})
    assert (mask, method) == (classical, "classical") and warnings[-1].startswith("both masks failed")
    assert choose_mask(learned, classical, {"learned": ["a"], "classical": ["c"]})[:2] == (learned, "learned")


@pytest.fixture
def learned_in_the_air(aomic_2mm, monkeypatch) -> Image:
    """The learned stripper replaced by one that returns AOMIC's brain mask moved 60 mm forward, its front into the
    air in front of the face (the bundled model put its whole mask there on this head); returns the true mask."""
    brain = aomic_2mm[1]
    moved = np.zeros_like(brain.array)
    moved[:, 30:] = brain.array[:, :-30]  # j points anterior on this RAS grid
    monkeypatch.setattr(stripping, "_learned", lambda image, *args: moved)
    return brain


def test_a_learned_mask_in_the_air_gives_way_to_the_classical_one(aomic_2mm, learned_in_the_air):
    head, brain = aomic_2mm
    result = strip_skull(head, modality="t1")
    assert result.method == "classical" and result.card is None
    assert any("outside the head" in warning for warning in result.warnings)
    assert "used instead" in result.warnings[-1]
    assert dice(result.mask.array, brain.array) > 0.85


@pytest.fixture
def fallen_back(head, monkeypatch) -> stripping.StripResult:
    """``strip_skull`` replaced by one that reports a fallback to the classical mask of the synthetic head."""
    inside = ellipsoid(BRAIN_MM)
    result = stripping.StripResult(as_mask(head, inside), head.with_array(np.where(inside, head.array, 0)),
                                   "classical", None, ["learned mask: brain volume 2455 mL is outside the plausible "
                                                       "700-2200 mL", "the classical mask passed every check and is "
                                                       "used instead"])
    monkeypatch.setattr(stripping, "strip_skull", lambda image, **options: result)
    return result


def test_strip_command_prints_the_warnings_on_stderr_and_succeeds(head, fallen_back, tmp_path, capsys):
    source = save_image(head, tmp_path / "t1.nii.gz")
    assert main(["strip", "--image", str(source), "--mask", str(tmp_path / "mask.nii.gz")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["method"] == "classical"
    assert captured.err.splitlines() == [f"braintumorai: warning: {warning}" for warning in fallen_back.warnings]


def test_pipeline_reports_the_stripping_warnings_and_the_method_used(head, fallen_back):
    result = run_pipeline(Case({"t1c": head}, "head"), PipelineOptions(steps=("strip",)))
    assert result.models["skull_stripping"]["id"] == "classical"
    assert result.warnings == [f"skull stripping: {warning}" for warning in fallen_back.warnings]
    assert result.report()["warnings"] == result.warnings


STRIPPED = ["samples/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz",
            "samples/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1n.nii.gz",
            "samples/BraTS-MET-00110-000/BraTS-MET-00110-000-t1c.nii.gz",  # RAS
            "samples/SRI24-case/t1c.nii.gz",  # atlas space: a 1.0 L brain
            # its brain reaches the lowest slice (13% of its cross-section there)
            "segmentation/brats2019-2021/BraTS2021_00006/BraTS2021_00006_t1ce.nii.gz"]


@pytest.mark.parametrize("path", STRIPPED)
def test_a_stripped_brats_brain_passes_every_check(data_dir, path):
    """The mask ``strip_skull`` keeps for an already stripped input: its foreground, holes filled."""
    image = load_image(data_dir / path)
    assert check_mask(as_mask(image, solid_component(foreground_mask(image.array))), image) == []


def test_the_hdbet_mask_of_a_thick_slice_clinical_series_passes_every_check(data_dir):
    folder = data_dir / "samples" / "TCGA-FG-6692"
    image = load_image(folder / "t1c.nii.gz")
    mask = load_image(folder / "brainmask-hdbet-on-t1c.nii.gz", label=True)
    assert check_mask(as_mask(image, mask.array > 0), image) == []


def test_a_large_volume_s_head_region_is_found_on_every_second_voxel_and_differs_only_at_its_rim():
    axes = [np.arange(n) - (n - 1) / 2 for n in (232, 220, 200)]  # 10.2 M voxels of 1 mm: the halved path
    x, y, z = np.meshgrid(*axes, indexing="ij")
    inside = (x / 80.0) ** 2 + (y / 95.0) ** 2 + (z / 85.0) ** 2 <= 1.0
    volume = np.where(inside, 100.0, 0.0).astype(np.float32)
    assert volume.size > guard.HALVED_ABOVE_VOXELS
    full = ndimage.binary_dilation(inside, iterations=guard.HEAD_MARGIN_VOXELS)
    halved = guard.head_region(volume)
    assert halved.shape == volume.shape
    assert not (ndimage.binary_erosion(full, iterations=2) & ~halved).any()
    assert not (halved & ~ndimage.binary_dilation(full, iterations=4)).any()
    assert np.count_nonzero(halved ^ full) < 0.05 * np.count_nonzero(full)
