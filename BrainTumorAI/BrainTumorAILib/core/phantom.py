"""Synthetic head phantoms with exact ground truth: four MRI sequences, a tumour class map, brain and head masks.

Anatomy is defined in RAS millimetres around the grid's centre (x left->right, y posterior->anterior, z inferior->
superior) from smooth randomly deformed ellipsoids: scalp, skull, a CSF rim, grey and white matter with a folded
boundary, ventricles, eyes, a neck, and a tumour (necrotic core, enhancing rim, oedema). Every voxel's position comes
from the grid's affine, so an oblique or anisotropic grid samples the same head consistently. Deterministic in
``seed`` (numpy Generator); about 0.3 s for 96x96x80 voxels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from .image import Image

# tissue codes of Phantom.tissues
TISSUES = ("air", "scalp", "skull", "csf", "grey", "white", "edema", "necrosis", "enhancing", "eye", "neck", "diploe")
AIR, SCALP, SKULL, CSF, GREY, WHITE, EDEMA, NECROSIS, ENHANCING, EYE, NECK, DIPLOE = range(len(TISSUES))

# mean intensity of each tissue (order of TISSUES) per sequence, on a 0..1 scale, as the sequences weight them:
# T1 white > grey > CSF; T1c like T1 with a bright enhancing rim; T2 CSF and oedema bright; FLAIR oedema bright,
# CSF dark; the skull's fatty marrow (diploe) is bright on T1 between dark bone tables
CONTRASTS = {
    "flair": (0.0, 0.70, 0.05, 0.08, 0.50, 0.38, 0.90, 0.40, 0.65, 0.10, 0.20, 0.55),
    "t1": (0.0, 0.90, 0.08, 0.15, 0.45, 0.62, 0.35, 0.20, 0.45, 0.12, 0.35, 0.80),
    "t1c": (0.0, 0.90, 0.08, 0.15, 0.45, 0.62, 0.35, 0.20, 0.95, 0.12, 0.35, 0.80),
    "t2": (0.0, 0.60, 0.05, 0.95, 0.55, 0.40, 0.80, 0.90, 0.60, 0.95, 0.25, 0.50),
}
HEAD_SEMI_AXES_MM = np.array([72.0, 92.0, 80.0])  # scalp surface of an adult head (x, y, z)


@dataclasses.dataclass(frozen=True)
class Phantom:
    """A synthetic head. Every Image shares one grid (shape (I, J, K), affine voxel -> RAS)."""

    images: dict[str, Image]  # "flair", "t1", "t1c", "t2": float32, 0..~1
    labels: Image  # tumour class map uint8: 0 background, 1 NCR, 2 ED, 3 ET (labels.py)
    brain_mask: Image  # uint8 0/1: grey and white matter, ventricles, tumour; not the CSF between brain and skull
    head_mask: Image  # uint8 0/1: everything that is not air
    tissues: Image  # uint8 codes of TISSUES, for synthesising other contrasts


def phantom_affine(shape: tuple[int, int, int], spacing: tuple[float, float, float],
                   rotation: np.ndarray | None = None) -> np.ndarray:
    """Voxel -> RAS affine whose grid centre sits at the origin; ``rotation`` (3x3) makes it oblique."""
    matrix = (np.eye(3) if rotation is None else rotation) @ np.diag(spacing)
    affine = np.eye(4)
    affine[:3, :3] = matrix
    affine[:3, 3] = -matrix @ ((np.asarray(shape, dtype=float) - 1) / 2)
    return affine


def make_phantom(seed: int, shape: tuple[int, int, int] = (96, 96, 80),
                 spacing: tuple[float, float, float] = (2.0, 2.0, 2.0), oblique: bool = False,
                 tumour: bool = True) -> Phantom:
    """A random head on a grid of ``shape`` voxels of ``spacing`` mm, rotated 10-25 degrees when ``oblique``."""
    rng = np.random.default_rng(seed)
    rotation = None
    if oblique:
        turn = np.random.default_rng([seed, 1])  # its own stream, so the anatomy draws stay those of the seed
        axis = turn.normal(size=3)
        rotation = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.deg2rad(turn.uniform(10, 25))).as_matrix()
    affine = phantom_affine(shape, spacing, rotation)
    points = _world_points(shape, affine)
    tissues, brain = _tissue_map(rng, points, affine, shape, tumour)
    texture = 1.0 + 0.04 * _smooth_field(rng, points, wavelength_mm=30.0)
    noise = rng.normal(0.0, 0.012, size=shape).astype(np.float32)
    images = {}
    for sequence, means in CONTRASTS.items():
        array = np.asarray(means, dtype=np.float32)[tissues] * texture + noise
        images[sequence] = Image(np.abs(array).astype(np.float32), affine)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[tissues == NECROSIS] = 1
    labels[tissues == EDEMA] = 2
    labels[tissues == ENHANCING] = 3
    head = (tissues != AIR).astype(np.uint8)
    return Phantom(images, Image(labels, affine), Image(brain.astype(np.uint8), affine), Image(head, affine),
                   Image(tissues, affine))


def _world_points(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """RAS mm of every voxel centre, shape (3, I, J, K) float32."""
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    world = affine[:3, :3].astype(np.float32) @ grid + affine[:3, 3:4].astype(np.float32)
    return world.reshape(3, *shape)


def _smooth_field(rng: np.random.Generator, points: np.ndarray, wavelength_mm: float, terms: int = 6) -> np.ndarray:
    """A random smooth field of about unit amplitude (sum of random plane waves), shape (I, J, K) float32."""
    field = np.zeros(points.shape[1:], dtype=np.float32)
    for _ in range(terms):
        direction = rng.normal(size=3)
        frequency = 2 * np.pi / (wavelength_mm * rng.uniform(0.7, 1.4))
        wave = (direction / np.linalg.norm(direction) * frequency).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi)
        field += np.cos(np.tensordot(wave, points, axes=1) + phase)
    return field * np.float32(np.sqrt(2.0 / terms))


def _deformed_radius(rng: np.random.Generator, points: np.ndarray, centre: np.ndarray, semi_axes: np.ndarray,
                     amplitude: float, affine: np.ndarray | None = None) -> np.ndarray:
    """Normalised radius of a randomly deformed ellipsoid: < 1 inside, ~ (distance / semi-axis) + 1 outside.

    The deformation is a random low-order polynomial of the direction, so the shape stays smooth and star-shaped.
    With the grid's ``affine`` only the voxels within 1.5 semi-axes of ``centre`` are computed (the rest read 10).
    """
    box = (slice(None),) * 3 if affine is None else _voxel_box(affine, points.shape[1:], centre, 1.5 * semi_axes)
    scaled = (points[(slice(None), *box)] - centre[:, None, None, None].astype(np.float32)) / semi_axes[
        :, None, None, None].astype(np.float32)
    radius = np.sqrt(np.sum(scaled * scaled, axis=0)) + np.float32(1e-6)
    u = scaled / radius
    terms = [u[0], u[1], u[2], u[0] * u[1], u[1] * u[2], u[0] * u[2], u[0] ** 2 - u[1] ** 2, u[2] ** 2 - 0.33,
             u[0] * u[1] * u[2], u[1] ** 3 - 0.6 * u[1]]
    coefficients = rng.normal(0.0, amplitude, size=len(terms)).astype(np.float32)
    deformation = sum(c * t for c, t in zip(coefficients, terms))
    if affine is None:
        return radius / (1.0 + np.clip(deformation, -0.3, 0.3))
    full = np.full(points.shape[1:], 10.0, dtype=np.float32)
    full[box] = radius / (1.0 + np.clip(deformation, -0.3, 0.3))
    return full


def _voxel_box(affine: np.ndarray, shape: tuple[int, ...], centre: np.ndarray, half_size: np.ndarray
               ) -> tuple[slice, slice, slice]:
    """The voxel index box holding the world box ``centre +- half_size`` (mm), clipped to the grid."""
    signs = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=float)
    corners = np.c_[centre + signs * half_size, np.ones(8)]
    ijk = (np.linalg.inv(affine) @ corners.T)[:3]
    low = np.clip(np.floor(ijk.min(axis=1)), 0, shape).astype(int)
    high = np.clip(np.ceil(ijk.max(axis=1)) + 1, 0, shape).astype(int)
    return tuple(slice(a, b) for a, b in zip(low, high))  # type: ignore[return-value]


def _head_scale(affine: np.ndarray, shape: tuple[int, int, int], semi_axes: np.ndarray) -> float:
    """Largest scale (<= 1) at which the ellipsoid with ``semi_axes`` fits inside 92 % of the grid along each axis."""
    directions = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    half_extent = np.sqrt(((semi_axes[:, None] * directions) ** 2).sum(axis=0))
    room = 0.92 * (np.asarray(shape) - 1) * np.linalg.norm(affine[:3, :3], axis=0) / 2
    return float(min(1.0, np.min(room / half_extent)))


def _tissue_map(rng: np.random.Generator, points: np.ndarray, affine: np.ndarray, shape: tuple[int, int, int],
                tumour: bool) -> tuple[np.ndarray, np.ndarray]:
    """Tissue codes (TISSUES) of every voxel, uint8 (I, J, K), and the brain mask, bool (I, J, K): the cerebrum,
    cerebellum and brainstem with their ventricles and tumour, without the CSF rim around them."""
    head_axes = HEAD_SEMI_AXES_MM * rng.uniform(0.9, 1.05, size=3)
    head_axes = head_axes * _head_scale(affine, shape, head_axes * 1.15)
    size = float(head_axes.mean())
    x, y, z = points
    head_radius = _deformed_radius(rng, points, np.zeros(3), head_axes, 0.05)
    scalp, bone, csf = rng.uniform(4, 8), rng.uniform(4, 9), rng.uniform(1.5, 4)
    marrow = rng.uniform(0.2, 0.6) * bone  # diploe in the middle of the bone
    skull_outer, skull_inner = 1 - scalp / size, 1 - (scalp + bone) / size
    brain_level = 1 - (scalp + bone + csf) / size
    bx, by, bz = head_axes * brain_level
    brain_radius = head_radius * (1 + 0.015 * _smooth_field(rng, points, wavelength_mm=60.0)) / brain_level
    inside_skull = head_radius < skull_inner
    # cerebrum above a floor that rises to the front (orbits) and falls to the back (temporal lobes), cerebellum
    # below its back, brainstem down to the cerebellum's bottom
    floor = bz * (rng.uniform(-0.5, -0.4) + rng.uniform(0.15, 0.25) * y / by)
    cerebellum_centre = np.array([0.0, -0.5 * by, -0.55 * bz])
    cerebellum = _deformed_radius(rng, points, cerebellum_centre, np.array([0.6 * bx, 0.35 * by, 0.3 * bz]), 0.05,
                                  affine) < 1
    brainstem = (np.hypot(x / (0.14 * bx), (y + 0.15 * by) / (0.12 * by)) < 1) & (z > -0.85 * bz) & (z < 0)
    brain = (brain_radius < 1) & inside_skull & ((z > floor) | cerebellum | brainstem)
    texture = _smooth_field(rng, points, wavelength_mm=18.0)
    tissues = np.zeros(shape, dtype=np.uint8)
    neck = (np.hypot(x, (y + 0.15 * head_axes[1]) * 1.1) < 0.62 * head_axes[0]) & (z < -0.45 * head_axes[2])
    tissues[neck] = NECK
    tissues[head_radius < 1] = SCALP
    tissues[head_radius < skull_outer] = SKULL
    tissues[head_radius < 1 - (scalp + (bone - marrow) / 2) / size] = DIPLOE
    tissues[head_radius < 1 - (scalp + (bone + marrow) / 2) / size] = SKULL
    tissues[inside_skull] = CSF
    face_centre = np.array([0.0, 0.45 * head_axes[1], -0.55 * head_axes[2]])
    face = (_deformed_radius(rng, points, face_centre, head_axes * np.array([0.6, 0.55, 0.45]), 0.08, affine) < 1) & (
        head_radius < 1.08)
    base = (inside_skull | face) & ~brain & (z < floor + 4)
    # skull base and face: bone, muscle, fat and air sinuses in smooth random patches
    tissues[base] = np.select([texture[base] < -0.6, texture[base] < 0.0, texture[base] < 0.7], [AIR, SKULL, NECK],
                              SCALP)
    for side in (-1, 1):
        eye_centre = np.array([side * 0.42 * head_axes[0], 0.72 * head_axes[1], -0.3 * head_axes[2]])
        eye = _deformed_radius(rng, points, eye_centre, np.full(3, rng.uniform(10, 13)), 0.02, affine) < 1
        tissues[eye & ~brain & (head_radius < 1)] = EYE
    size = float(np.mean([bx, by, bz]))
    cortex = rng.uniform(2.5, 4.0) / size + 0.05 * (1 + _smooth_field(rng, points, wavelength_mm=22.0))
    tissues[brain] = GREY
    tissues[brain & (brain_radius < 1 - cortex) & (z > floor + 6)] = WHITE
    for side in (-1, 1):
        centre = np.array([side * rng.uniform(5, 9), rng.uniform(-5, 5), rng.uniform(0, 10)]) * size / 62
        ventricle = _deformed_radius(rng, points, centre, np.array([5.0, 24.0, 8.0]) * size / 62, 0.1, affine) < 1
        tissues[ventricle & brain] = CSF
    if tumour:
        _add_tumour(rng, points, affine, tissues, brain & (z > floor + 10), np.array([bx, by, bz]))
    return tissues, brain


def _add_tumour(rng: np.random.Generator, points: np.ndarray, affine: np.ndarray, tissues: np.ndarray,
                brain: np.ndarray, brain_axes: np.ndarray) -> None:
    """Paint oedema, an enhancing rim and a necrotic core at a random place inside the brain (in place)."""
    direction = rng.normal(size=3)
    centre = direction / np.linalg.norm(direction) * rng.uniform(0.1, 0.55) * brain_axes
    core_radius = rng.uniform(8, 18)
    core = _deformed_radius(rng, points, centre, np.full(3, core_radius) * rng.uniform(0.85, 1.15, 3), 0.08, affine)
    edema = _deformed_radius(rng, points, centre, np.full(3, core_radius * rng.uniform(1.4, 2.0)), 0.12, affine)
    tissues[(edema < 1) & brain] = EDEMA
    tissues[(core < 1) & brain] = ENHANCING
    tissues[(core < rng.uniform(0.4, 0.7)) & brain] = NECROSIS
