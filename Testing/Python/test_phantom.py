"""The synthetic head phantom: deterministic, anatomically nested, MRI-like contrasts, consistent geometry."""

import numpy as np
import pytest

from BrainTumorAILib.core.phantom import CSF, GREY, SKULL, WHITE, make_phantom


def test_same_seed_gives_identical_phantom_and_other_seed_differs():
    first, again, other = make_phantom(5), make_phantom(5), make_phantom(6)
    for sequence in first.images:
        np.testing.assert_array_equal(first.images[sequence].array, again.images[sequence].array)
    np.testing.assert_array_equal(first.labels.array, again.labels.array)
    assert not np.array_equal(first.brain_mask.array, other.brain_mask.array)


def test_images_and_masks_share_one_grid_with_expected_types():
    phantom = make_phantom(1, shape=(64, 72, 48), spacing=(2.5, 2.5, 3.0))
    assert set(phantom.images) == {"flair", "t1", "t1c", "t2"}
    for image in (*phantom.images.values(), phantom.labels, phantom.brain_mask, phantom.head_mask):
        assert image.shape == (64, 72, 48)
        assert image.same_grid(phantom.labels)
    assert all(image.array.dtype == np.float32 for image in phantom.images.values())
    assert phantom.labels.array.dtype == np.uint8 and phantom.brain_mask.array.dtype == np.uint8
    assert np.allclose(phantom.labels.spacing, (2.5, 2.5, 3.0))


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_tumour_lies_inside_brain_inside_head(seed):
    phantom = make_phantom(seed)
    labels, brain, head = phantom.labels.array, phantom.brain_mask.array, phantom.head_mask.array
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert np.all(brain[labels > 0] == 1)
    assert np.all(head[brain == 1] == 1)
    assert 0 < brain.sum() < head.sum()
    # the skull separates the brain from the outside: no brain voxel on the grid's faces
    assert not brain[[0, -1]].any() and not brain[:, [0, -1]].any() and not brain[:, :, [0, -1]].any()


def test_no_tumour_when_asked():
    assert make_phantom(2, tumour=False).labels.array.max() == 0


def test_contrasts_follow_the_sequences():
    phantom = make_phantom(4)
    tissues, labels = phantom.tissues.array, phantom.labels.array

    def mean(sequence, mask):
        return float(phantom.images[sequence].array[mask].mean())

    csf, grey, white, skull = tissues == CSF, tissues == GREY, tissues == WHITE, tissues == SKULL
    edema, enhancing = labels == 2, labels == 3
    assert mean("t1", white) > mean("t1", grey) > mean("t1", csf)
    assert mean("flair", edema) > mean("flair", grey) > mean("flair", csf)
    assert mean("t2", csf) > mean("t2", grey) and mean("t2", edema) > mean("t2", white)
    assert mean("t1c", enhancing) > mean("t1c", white) and mean("t1c", enhancing) > 1.5 * mean("t1", enhancing)
    assert all(mean(sequence, skull) < 0.15 for sequence in phantom.images)


def test_oblique_affine_is_a_rotation_that_keeps_the_anatomy_upright_in_world_space():
    spacing = (1.5, 2.0, 3.0)
    straight = make_phantom(8, shape=(110, 100, 64), spacing=spacing)
    oblique = make_phantom(8, shape=(110, 100, 64), spacing=spacing, oblique=True)
    matrix = oblique.labels.affine[:3, :3]
    rotation = matrix / np.linalg.norm(matrix, axis=0)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
    assert abs(np.linalg.det(rotation) - 1) < 1e-9 and not np.allclose(rotation, np.eye(3), atol=0.05)
    np.testing.assert_allclose(oblique.labels.spacing, spacing)

    def brain_centre_and_size(phantom):
        ijk = np.argwhere(phantom.brain_mask.array == 1)
        world = ijk @ phantom.brain_mask.affine[:3, :3].T + phantom.brain_mask.affine[:3, 3]
        return world.mean(axis=0), len(ijk) * np.prod(spacing)

    # the grid centre maps to the world origin and the brain sits near it in both; its volume does not depend on
    # the grid's rotation beyond what the random shape draws change
    for phantom in (straight, oblique):
        centre = phantom.labels.affine @ np.append((np.array(phantom.labels.shape) - 1) / 2, 1)
        np.testing.assert_allclose(centre[:3], 0, atol=1e-6)
        brain_centre, volume = brain_centre_and_size(phantom)
        assert np.linalg.norm(brain_centre) < 20
        assert 4e5 < volume < 2e6  # mm^3: an adult-sized brain


def test_oblique_grid_keeps_the_head_long_axis_anterior_posterior_in_world_space():
    """The head is longest from back to front (world y); on an oblique grid that axis is off the voxel axes."""
    oblique = make_phantom(9, oblique=True)
    ijk = np.argwhere(oblique.brain_mask.array == 1).astype(float)
    world = ijk @ oblique.brain_mask.affine[:3, :3].T

    def long_axis(points):
        values, vectors = np.linalg.eigh(np.cov(points.T))
        return vectors[:, np.argmax(values)]

    assert abs(long_axis(world)[1]) > 0.97
    rotation = oblique.brain_mask.affine[:3, :3] / 2.0
    angle = np.degrees(np.arccos((np.trace(rotation) - 1) / 2))
    assert 10 - 1e-6 <= angle <= 25 + 1e-6
