"""segment_case on phantoms with tiny random-weights models: reference grids, orientations, TTA and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from seg_models import SIGMOID_OUTPUTS, SOFTMAX_OUTPUTS, tiny_card, write_registry

from BrainTumorAILib.core.case import Case
from BrainTumorAILib.core.errors import InputError, ModelError
from BrainTumorAILib.core.image import Image, reorient, resample_to
from BrainTumorAILib.core.phantom import make_phantom
from BrainTumorAILib.inference.windows import WindowSettings
from BrainTumorAILib.tasks.segmentation import segment_case

SHAPE, SPACING = (40, 40, 36), (5.0, 5.0, 5.0)


@pytest.fixture
def models(tmp_path, monkeypatch):
    write_registry(tmp_path, [tiny_card("tiny-softmax", ["flair", "t1c"], SOFTMAX_OUTPUTS),
                              tiny_card("tiny-bundle", ["t1c", "t1", "t2", "flair"], SIGMOID_OUTPUTS)], monkeypatch)


def phantom_case(oblique: bool = False, orientation: str | None = None) -> Case:
    phantom = make_phantom(3, shape=SHAPE, spacing=SPACING, oblique=oblique)
    images = phantom.images if orientation is None else {k: reorient(v, orientation) for k, v in phantom.images.items()}
    return Case(images, "phantom")


@pytest.mark.parametrize("orientation, oblique", [("LPS", False), ("RAS", False), (None, True)])
def test_result_lies_on_the_reference_grid(models, orientation, oblique):
    case = phantom_case(oblique, orientation)
    result = segment_case(case, model_id="tiny-softmax", device="cpu")
    reference = case.images["t1c"]
    assert result.reference == "t1c"
    for image in (result.classes, result.labels):
        assert image.same_grid(reference)
    assert result.classes.array.dtype == np.uint8 and set(np.unique(result.classes.array)) <= {0, 1, 2, 3}
    assert set(np.unique(result.labels.array)) <= {0, 1, 2, 4}
    assert result.uncertainty is None
    voxel_ml = np.prod(reference.spacing) / 1000
    assert result.volumes_ml["WT"] == pytest.approx(np.count_nonzero(result.classes.array) * voxel_ml, abs=1e-3)


def test_lps_and_ras_copies_of_one_case_get_the_same_voxels(models):
    ras = segment_case(phantom_case(orientation="RAS"), model_id="tiny-bundle", device="cpu")
    lps = segment_case(phantom_case(orientation="LPS"), model_id="tiny-bundle", device="cpu")
    assert lps.classes.orientation == "LPS"
    np.testing.assert_array_equal(reorient(lps.classes, "RAS").array, ras.classes.array)
    assert ras.classes.array.any()


def test_output_follows_the_chosen_reference_when_sequences_have_their_own_grids(models):
    case = phantom_case()
    flair = case.images["flair"]
    coarse = Image(np.zeros((20, 20, 18), dtype=np.float32), flair.affine @ np.diag([2.0, 2.0, 2.0, 1.0]))
    coarse_flair = resample_to(flair, coarse)
    mixed = Case({**case.images, "flair": coarse_flair}, "mixed")
    assert segment_case(mixed, model_id="tiny-softmax", device="cpu").classes.same_grid(case.images["t1c"])
    by_flair = segment_case(mixed, model_id="tiny-softmax", reference="flair", device="cpu", labels="brats2023")
    assert by_flair.reference == "flair" and by_flair.labels.same_grid(coarse_flair)


def test_tta_gives_an_uncertainty_map_and_progress_reaches_the_end(models):
    seen: list[tuple[float, str]] = []
    result = segment_case(phantom_case(), model_id="tiny-bundle", tta=True, device="cpu",
                          progress=lambda fraction, message: seen.append((fraction, message)))
    assert result.uncertainty is not None and result.uncertainty.same_grid(result.classes)
    assert result.uncertainty.array.dtype == np.float32
    assert 0 < result.uncertainty.array.max() <= 0.5  # std of a probability
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum(message == "segmenting" for _, message in seen) == 4  # one window, four flips


def test_the_card_decides_tta_unless_the_caller_does(tmp_path, monkeypatch):
    card, state = tiny_card("tiny-tta", ["flair", "t1c"], SOFTMAX_OUTPUTS)
    card["inference"]["flip_tta"] = True
    write_registry(tmp_path, [(card, state), tiny_card("tiny-plain", ["flair", "t1c"], SOFTMAX_OUTPUTS)], monkeypatch)
    case = phantom_case()
    by_card = segment_case(case, model_id="tiny-tta", device="cpu")
    assert by_card.uncertainty is not None
    plain = segment_case(case, model_id="tiny-tta", tta=False, device="cpu")
    assert plain.uncertainty is None
    assert segment_case(case, model_id="tiny-plain", device="cpu").uncertainty is None
    assert segment_case(case, model_id="tiny-plain", tta=True, device="cpu").uncertainty is not None


def test_a_missing_sequence_is_named(models):
    case = phantom_case()
    without_t2 = Case({name: image for name, image in case.images.items() if name != "t2"}, "no-t2")
    with pytest.raises(InputError, match="lacks t2 .*tiny-bundle"):
        segment_case(without_t2, model_id="tiny-bundle", device="cpu")


def test_weights_with_another_channel_count_are_refused(tmp_path, monkeypatch):
    card, _ = tiny_card("two-inputs", ["flair", "t1c"], SOFTMAX_OUTPUTS)
    _, four_channel_state = tiny_card("four", ["t1c", "t1", "t2", "flair"], SOFTMAX_OUTPUTS)
    write_registry(tmp_path, [(card, four_channel_state)], monkeypatch)
    with pytest.raises(ModelError, match="do not fit"):
        segment_case(phantom_case(), model_id="two-inputs", device="cpu")


def test_an_unknown_label_convention_fails_before_any_work(models):
    with pytest.raises(InputError, match="brats2099"):
        segment_case(phantom_case(), model_id="tiny-softmax", labels="brats2099")


def test_window_count_follows_monai_scan_intervals():
    settings = WindowSettings(roi_size=(64, 64, 64), overlap=0.25)
    assert settings.window_count((64, 40, 64)) == 1  # smaller volumes are padded to one window
    assert settings.window_count((100, 64, 64)) == 2  # interval 48: starts at 0 and 36
    assert settings.window_count((160, 160, 64)) == 9


def test_window_is_cut_to_a_smaller_volume_in_stride_multiples():
    settings = WindowSettings(roi_size=(160, 160, 160), overlap=0.25, multiple=8)
    assert settings.fitted((112, 144, 100)).roi_size == (112, 144, 104)
    assert settings.fitted((200, 90, 160)).roi_size == (160, 96, 160)
    assert WindowSettings(roi_size=(64, 64, 64)).fitted((40, 40, 40)).roi_size == (64, 64, 64)
