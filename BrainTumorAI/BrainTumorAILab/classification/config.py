"""Classifier training configs (JSON under Resources/Configs/classification); omitted fields take ``DEFAULTS``.

``split.kind`` is ``twin`` (whole near-duplicate groups on one side, the honest split), ``random`` (the naive
split the seeds used, kept to measure how much it inflates accuracy) or ``twin_and_brightness`` (two held-out sets
from one run: a twin-aware random one and a brightness-inverted one, ``twins.brightness_holdout``); with
``split.brightness_half_trained`` 0 or 1 that half of the brightness-inverted hold-out (whole twin groups) trains
and the other stays held out, to measure what training on such images gains. ``split.seed`` (default: the run's
``seed``) draws the split, so runs of other training seeds can hold out the same images (the members of an
ensemble measured on one held-out set).
``standardise`` (``minmax`` or ``head_equalised``) and ``frame`` (crop to the head) are the per-image
standardisation of ``standardise.py``. ``schedule`` is ``plateau`` (``reduce_lr``) or ``cosine`` (to zero over
``epochs``); ``selection`` is ``best`` (the epoch of best validation accuracy) or ``last`` (no held-out image
chooses anything). ``extra_data``: [{"path": folder, "repeat": n}], more class folders (such as slices cut from 3D
studies, ``study_slices.py``) added ``repeat`` times to the training side only, never to a held-out set.
``init_from`` (a run's model.safetensors)
starts from an earlier stage's weights, e.g. to continue at a lower rate. ``early_stopping`` and ``reduce_lr``
follow seed 000: stop after ``patience`` epochs without a validation-accuracy gain and restore the best epoch;
multiply the learning rate by ``factor`` after ``patience`` epochs without a validation-loss gain, down to ``min_lr``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from BrainTumorAILib.core.errors import InputError
from BrainTumorAILib.tasks.classification.standardise import STANDARDISATIONS
from ..config_files import merge, read_config, require

REPO_ROOT = Path(__file__).resolve().parents[3]
LOSSES = ("cross_entropy", "kl_divergence")
SPLITS = ("twin", "random", "twin_and_brightness")
SCHEDULES = ("plateau", "cosine")
SELECTIONS = ("best", "last")
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "init_from": None,
    "data": "../shared/data/classification/masoud-train",
    "max_images_per_class": None,
    "extra_data": [],
    "image_size": 128,
    "standardise": "minmax",
    "frame": False,
    "split": {"kind": "twin", "validation_fraction": 0.2, "twin_threshold": 0.95, "brightness_fraction": 0.15},
    "loss": {"name": "cross_entropy", "label_smoothing": 0.0, "class_weights": "balanced"},
    "optimiser": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "momentum": 0.9},
    "batch_size": 32,
    "epochs": 30,
    "early_stopping": {"patience": 15},
    "reduce_lr": {"factor": 0.8, "patience": 6, "min_lr": 1e-9},
    "schedule": "plateau",
    "selection": "best",
    "augmentation": {"flip": 0.5, "rotate_degrees": 15.0, "scale": 0.1, "shift": 0.08, "gamma": 0.3,
                     "contrast": 0.15, "brightness": 0.0, "noise": 0.0, "strip": 0.0},
    "inference": {"batch_size": 32, "flip_tta": False, "gaussian_sigma": 0.5},
}
REQUIRED = ("name", "architecture")


def load_config(source: str | os.PathLike | dict[str, Any]) -> dict[str, Any]:
    """A config file (or dict) merged over ``DEFAULTS`` and checked; errors name the file and the field."""
    where = "config" if isinstance(source, dict) else str(source)
    given = source if isinstance(source, dict) else read_config(source)
    require(given, REQUIRED, where)
    config = merge(DEFAULTS, given)
    if config["loss"]["name"] not in LOSSES:
        raise InputError(f"Unknown loss '{config['loss']['name']}' (choose {', '.join(LOSSES)}): {where}")
    if config["split"]["kind"] not in SPLITS:
        raise InputError(f"Unknown split '{config['split']['kind']}' (choose {', '.join(SPLITS)}): {where}")
    if config["split"].get("brightness_half_trained") not in (None, 0, 1) or (
            "brightness_half_trained" in config["split"] and config["split"]["kind"] != "twin_and_brightness"):
        raise InputError(f"split.brightness_half_trained takes 0 or 1, with the twin_and_brightness split only: "
                         f"{where}")
    if not isinstance(config["split"].get("seed", 0), int) or isinstance(config["split"].get("seed"), bool):
        raise InputError(f"split.seed must be a whole number, not {config['split']['seed']!r}: {where}")
    for field, choices in (("schedule", SCHEDULES), ("selection", SELECTIONS), ("standardise", STANDARDISATIONS)):
        if config[field] not in choices:
            raise InputError(f"Unknown {field} '{config[field]}' (choose {', '.join(choices)}): {where}")
    for entry in config["extra_data"]:
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("repeat", 1), int) and entry.get("repeat", 1) >= 1):
            raise InputError(f"extra_data entries need a folder 'path' and a whole 'repeat' >= 1, not {entry!r}: "
                             f"{where}")
    if config["image_size"] % 32:
        raise InputError(f"image_size must be a multiple of 32, not {config['image_size']}: {where}")
    return config


def resolve(path: str | os.PathLike) -> Path:
    """A config path with $VARIABLES expanded; a relative one is taken from the repository root."""
    path = Path(os.path.expandvars(str(path)))
    return path if path.is_absolute() else REPO_ROOT / path


def data_dir(config: dict[str, Any]) -> Path:
    """The dataset folder named by ``config["data"]``."""
    return resolve(config["data"])
