"""Reading 2D images of any kind, both folder naming schemes, and clear refusals of unusable files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.tasks.classification.dataset import CLASSES, class_of_folder, find_samples, read_image
from classification_models import write_dataset


def test_both_naming_schemes_map_to_the_four_classes(tmp_path):
    old = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
    samples = find_samples(write_dataset(tmp_path, per_class=2, folder_names=old))
    assert [s.label for s in samples] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [class_of_folder(name) for name in CLASSES] == list(CLASSES)
    assert class_of_folder("unrelated") is None


def test_sixteen_bit_png_keeps_its_depth(tmp_path):
    gradient = np.tile(np.linspace(0, 65535, 200), (100, 1)).astype(np.uint16)
    gradient[:, :100] = 1000  # everything in the low byte range except the right half
    path = tmp_path / "deep.png"
    PILImage.fromarray(gradient).save(path)
    image = read_image(path, 64)
    assert image.shape == (64, 64) and image.dtype == np.float32
    assert image.min() == 0.0 and image.max() > 0.98
    assert np.ptp(image[:, 34:]) > 0.4  # the 16-bit ramp survives (8-bit truncation would saturate it)


def test_rgb_and_grayscale_of_any_size_read_alike(tmp_path):
    gray = (np.random.default_rng(0).random((300, 200)) * 255).astype(np.uint8)
    PILImage.fromarray(gray).save(tmp_path / "gray.jpg", quality=100)
    PILImage.fromarray(np.stack([gray] * 3, -1)).save(tmp_path / "rgb.png")
    first, second = read_image(tmp_path / "gray.jpg", 32), read_image(tmp_path / "rgb.png", 32)
    assert first.shape == second.shape == (32, 32)
    assert np.abs(first - second).mean() < 0.05


def test_unusable_files_are_refused_naming_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    tiny = tmp_path / "tiny.png"
    PILImage.fromarray(np.zeros((1, 1), np.uint8)).save(tiny)
    with pytest.raises(InputError, match="Cannot read image.*corrupt.jpg"):
        read_image(corrupt, 32)
    with pytest.raises(InputError, match="too small.*1x1.*tiny.png"):
        read_image(tiny, 32)
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "missing.png", 32)
