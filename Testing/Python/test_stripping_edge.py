"""The learned mask's edge redrawn by the classical mask (edge.py): the band's width in mm on any grid, an edge that
moves no farther than the band, the card's band applied by ``strip_skull`` on a real head only where the classical
mask agrees, and thick slices and T2 / FLAIR series keeping the learned edge without computing the classical mask."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from BrainTumorAILib.core.image import Image
from BrainTumorAILib.core.registry import MODELS_DIR, default_registry_path
from BrainTumorAILib.tasks import stripping
from BrainTumorAILib.tasks.stripping import strip_skull
from BrainTumorAILib.tasks.stripping.edge import classical_edge, edge_band, edge_contrast, fine_enough
from BrainTumorAILib.tasks.stripping.guard import check_mask, disagreement
from BrainTumorAILib.tasks.stripping.postprocess import dice


def radii(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) of each voxel from the grid's middle, float (shape)."""
    axes = [(np.arange(n) - (n - 1) / 2) * step for n, step in zip(shape, spacing)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(x * x + y * y + z * z)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 1.0, 2.0)])
def test_the_band_holds_the_voxels_within_its_width_on_either_side_in_mm(spacing):
    shape = tuple(int(80 / step) for step in spacing)
    radius = radii(shape, spacing)  # type: ignore[arg-type]
    band = edge_band(radius <= 20.0, spacing, 3.0)
    assert band[(radius > 17.5) & (radius < 19.5)].all() and band[(radius > 20.5) & (radius < 22.5)].all()
    assert not band[radius < 16.0].any() and not band[radius > 24.0].any()


def test_the_band_is_the_set_of_voxels_within_its_width_of_a_voxel_across_the_edge():
    """Against the definition through distance maps, on ragged masks touching the volume's faces, any spacing."""
    rng = np.random.default_rng(0)
    for _ in range(12):
        mask = ndimage.binary_opening(rng.random((30, 28, 26)) < 0.6)
        mask[0] |= rng.random(mask.shape[1:]) < 0.5
        spacing = tuple(float(step) for step in rng.choice([0.8, 1.0, 1.5, 2.3], 3))
        width = float(rng.choice([2.0, 3.0, 4.5]))
        near_outside = ndimage.distance_transform_edt(~mask, sampling=spacing) <= width
        near_inside = ndimage.distance_transform_edt(mask, sampling=spacing) <= width
        assert np.array_equal(edge_band(mask, spacing, width), near_outside & near_inside), (spacing, width)


def test_an_empty_mask_has_an_empty_band():
    assert not edge_band(np.zeros((8, 8, 8), bool), (1.0, 1.0, 1.0), 3.0).any()


def test_the_classical_mask_moves_the_edge_no_farther_than_the_band():
    spacing = (1.0, 1.0, 1.0)
    radius = radii((80, 80, 80), spacing)
    learned = (radius <= 20.0).astype(np.uint8)
    assert dice(classical_edge(learned, radius <= 22.0, spacing, 3.0), radius <= 22.0) == 1.0
    assert dice(classical_edge(learned, radius <= 18.5, spacing, 3.0), radius <= 18.5) == 1.0
    grown = classical_edge(learned, radius <= 30.0, spacing, 3.0) > 0
    assert grown[radius <= 22.5].all() and not grown[radius > 23.5].any()
    shrunk = classical_edge(learned, radius <= 10.0, spacing, 3.0) > 0
    assert shrunk[radius <= 16.5].all() and not shrunk[radius > 17.5].any()


def test_only_voxels_no_coarser_than_the_classical_grid_are_fine_enough():
    assert fine_enough((1.0, 1.0, 1.0)) and fine_enough((2.0, 2.0, 2.0))
    assert not fine_enough((0.9, 0.9, 5.5)) and not fine_enough((3.0, 1.0, 1.0))


@pytest.fixture
def coarse_only(tmp_path, monkeypatch):
    """The engine pointed at a copy of the registry whose default stripping card lacks its classical edge."""
    data = json.loads(default_registry_path().read_text())
    card = next(card for card in data["models"] if card["task"] == stripping.TASK and card.get("default"))
    assert card["inference"].pop("classical_edge_band_mm") == 3.0
    data["models_dir"] = str(MODELS_DIR)
    path = tmp_path / "models.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(path))


def test_the_cards_band_redraws_a_real_heads_edge_towards_its_brain(aomic_2mm, request):
    head, brain = aomic_2mm
    with_band = strip_skull(head, modality="t1", device="cpu", guard=False).mask.array
    request.getfixturevalue("coarse_only")
    without = strip_skull(head, modality="t1", device="cpu", guard=False).mask.array
    changed = with_band != without
    assert changed.any()
    assert edge_band(without > 0, head.spacing, 3.0)[changed].all()
    assert dice(with_band, brain.array) > dice(without, brain.array) + 0.01


def test_a_disagreeing_classical_mask_leaves_the_learned_edge(aomic_2mm, monkeypatch, request):
    head, _ = aomic_2mm
    request.getfixturevalue("coarse_only")
    without = strip_skull(head, modality="t1", device="cpu", guard=False).mask.array
    monkeypatch.undo()
    lowered = np.zeros_like(without)
    lowered[:, :, :-12] = without[:, :, 12:]  # 24 mm towards the feet: plausible, inside the head, but elsewhere
    assert not check_mask(head.with_array(lowered), head) and disagreement(head.with_array(without),
                                                                          head.with_array(lowered))
    monkeypatch.setattr(stripping, "_classical", lambda image: lowered)
    assert np.array_equal(strip_skull(head, modality="t1", device="cpu", guard=False).mask.array, without)


def refuse_the_classical_mask(image):
    raise AssertionError(f"the classical mask was computed for {image.spacing} mm voxels")


def test_thick_slices_keep_the_learned_edge_without_the_classical_mask(aomic_2mm, monkeypatch):
    head, _ = aomic_2mm
    thick = Image(np.ascontiguousarray(head.array[:, :, ::3]), head.affine @ np.diag([1.0, 1.0, 3.0, 1.0]))
    monkeypatch.setattr(stripping, "_classical", refuse_the_classical_mask)
    assert strip_skull(thick, modality="t1", device="cpu", guard=False).mask.array.any()


@pytest.mark.parametrize("modality", ["t2", "flair"])
def test_a_series_named_t2_or_flair_keeps_the_learned_edge(aomic_2mm, monkeypatch, modality):
    monkeypatch.setattr(stripping, "_classical", refuse_the_classical_mask)
    assert strip_skull(aomic_2mm[0], modality=modality, device="cpu", guard=False).mask.array.any()
    assert edge_contrast(None) and edge_contrast("t1c") and not edge_contrast(modality)
