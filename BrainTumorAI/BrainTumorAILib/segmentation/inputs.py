"""The segmentation network's input, shared by training and inference, and its exact way back.

``network_input`` turns images on one grid into the array a segmentation model sees:

1. axes permuted and flipped to RAS (no interpolation), so that a model sees every case the same way round;
2. each channel z-scored over its own foreground (``preprocess.zscore``; works for background 0 and for the
   deepmedic cases' -3.16), 0 outside;
3. cropped to the union of the channels' foregrounds grown by ``crop_margin_mm`` (the brain's box);
4. optionally resampled (trilinear) to ``spacing_mm``.

The returned ``NetworkGrid`` undoes steps 4, 3 and 1 for a network output (``to_reference``) and applies them to a
reference-grid label map for training (``labels_to_network``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import nibabel as nib
import numpy as np
import torch
from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform

from .. import preprocess
from ..errors import InputError
from ..image import Image

DEFAULT_MARGIN_MM = 8.0


@dataclasses.dataclass(frozen=True)
class NetworkGrid:
    """How the network array relates to the reference grid.

    ``to_ras`` is the nibabel orientation transform from the reference voxel axes to RAS; ``crop`` is the brain box
    on the RAS-ordered array; ``shape`` is the network array's spatial shape after resampling.
    """

    reference: Image
    to_ras: np.ndarray
    crop: preprocess.Crop
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def cropped_shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in zip(self.crop.start, self.crop.stop))  # type: ignore[return-value]

    def labels_to_network(self, classes: np.ndarray) -> np.ndarray:
        """A class map (I, J, K) on the reference grid -> (I', J', K') uint8 on the network grid (nearest)."""
        if classes.shape != self.reference.shape:
            raise InputError(f"Label map shape {classes.shape} does not match the images' grid {self.reference.shape}")
        ras = nib.orientations.apply_orientation(np.asarray(classes), self.to_ras)
        cropped = self.crop.apply(ras)
        return _resize(cropped[None].astype(np.float32), self.shape, "nearest")[0].astype(np.uint8)

    def to_reference(self, output: np.ndarray, *, fill: float | Sequence[float] = 0.0,
                     mode: str = "linear") -> np.ndarray:
        """A network output (C, I', J', K') -> (C, I, J, K) on the reference grid, voxel for voxel.

        ``mode`` "linear" for probabilities or logits, "nearest" for class maps; ``fill`` is the value outside the
        brain box, one number or one per channel (e.g. 1 for a softmax background channel).
        """
        if output.ndim != 4 or tuple(output.shape[1:]) != self.shape:
            raise ValueError(f"Network output shape {output.shape} does not match the network grid {self.shape}")
        resized = _resize(output, self.cropped_shape, mode).astype(output.dtype, copy=False)
        fills = np.broadcast_to(np.asarray(fill, dtype=np.float64), (output.shape[0],))
        ras_shape = tuple(self.crop.shape)
        full = np.empty((output.shape[0], *ras_shape), dtype=output.dtype)
        for channel in range(output.shape[0]):
            full[channel] = fills[channel]
            full[channel][self.crop.slices] = resized[channel]
        back = ornt_transform(axcodes2ornt(("R", "A", "S")), io_orientation(self.reference.affine))
        return np.stack([nib.orientations.apply_orientation(channel, back) for channel in full])


def activate(logits: torch.Tensor, outputs: Mapping[str, Any]) -> torch.Tensor:
    """Logits (B, C, ...) -> probabilities with the card's ``outputs.activation`` (softmax over C, or sigmoid)."""
    if outputs.get("activation", "softmax") == "softmax":
        return torch.softmax(logits, dim=1)
    return torch.sigmoid(logits)


def background_fill(outputs: Mapping[str, Any]) -> list[float]:
    """Per-channel probability outside the brain box: 1 for a softmax background channel, else 0."""
    return [1.0 if name == "background" else 0.0 for name in outputs["channels"]]


def classes_from_probabilities(probabilities: np.ndarray, outputs: Mapping[str, Any]) -> np.ndarray:
    """Probabilities (C, I, J, K) -> class map (I, J, K) uint8 (0 bg, 1 NCR, 2 ED, 3 ET, labels.py).

    Softmax channels: argmax. Sigmoid region channels (any of WT, TC, ET) at 0.5, nested: ET -> 3, TC without ET
    -> 1, WT without TC -> 2; a WT-only model therefore yields 2 for its whole tumour.
    """
    channels = list(outputs["channels"])
    if outputs.get("activation", "softmax") == "softmax":
        return np.argmax(probabilities, axis=0).astype(np.uint8)
    unknown = sorted(set(channels) - {"WT", "TC", "ET"})
    if unknown:
        raise InputError(f"Sigmoid output channels must be WT, TC or ET regions, not {unknown}")
    masks = {name: probabilities[channels.index(name)] > 0.5 for name in channels}
    classes = np.zeros(probabilities.shape[1:], dtype=np.uint8)
    for name, value in (("WT", 2), ("TC", 1), ("ET", 3)):
        if name in masks:
            classes[masks[name]] = value
    return classes


def preprocessing_of(card_or_preprocessing: Any) -> tuple[dict[str, Any], list[str] | None]:
    """(preprocessing dict, channel order or None) from a ModelCard or a bare preprocessing dict."""
    if isinstance(card_or_preprocessing, Mapping):
        return dict(card_or_preprocessing), None
    return dict(card_or_preprocessing.preprocessing), list(card_or_preprocessing.inputs)


def network_input(images: Mapping[str, Image], card_or_preprocessing: Any) -> tuple[np.ndarray, NetworkGrid]:
    """Images on one grid -> ((C, I', J', K') float32 network array, NetworkGrid).

    Channels follow the card's ``inputs`` order (or the mapping's order for a bare preprocessing dict).
    Raises InputError when a channel is missing or the images are not on one grid.
    """
    preprocessing, order = preprocessing_of(card_or_preprocessing)
    order = order or list(images)
    missing = [name for name in order if name not in images]
    if missing:
        raise InputError(f"The segmentation model needs {', '.join(missing)} (given: {', '.join(images) or 'none'})")
    reference = images[order[0]]
    for name in order[1:]:
        if not images[name].same_grid(reference):
            raise InputError(f"{name} ({images[name].name}) is not on the grid of {order[0]} ({reference.name}); "
                             "harmonise the case first")
    normalisation = preprocessing.get("normalisation", "zscore")
    if normalisation not in preprocess.NORMALISERS:
        raise InputError(f"Unknown normalisation '{normalisation}' (known: {', '.join(preprocess.NORMALISERS)})")
    normalise = preprocess.NORMALISERS[normalisation]

    to_ras = ornt_transform(io_orientation(reference.affine), axcodes2ornt(("R", "A", "S")))
    channels, foreground = [], np.zeros(reference.shape, dtype=bool)
    for name in order:
        array = images[name].array
        mask = preprocess.foreground_mask(array)
        foreground |= mask
        channels.append(nib.orientations.apply_orientation(normalise(array, mask), to_ras))
    stack = np.stack(channels).astype(np.float32, copy=False)
    ras_foreground = nib.orientations.apply_orientation(foreground, to_ras)

    ras_spacing = np.asarray(reference.spacing)[np.argsort(to_ras[:, 0].astype(int))]
    margin_mm = float(preprocessing.get("crop_margin_mm", DEFAULT_MARGIN_MM))
    margin = tuple(int(np.ceil(margin_mm / s)) for s in ras_spacing)
    crop = preprocess.bounding_box(ras_foreground, margin)
    cropped = crop.apply(stack)

    target = preprocessing.get("spacing_mm")
    if target:
        extent = np.asarray(cropped.shape[1:]) * ras_spacing
        shape = tuple(max(1, int(round(e / t))) for e, t in zip(extent, target))
        network = _resize(cropped, shape, "linear")
        spacing = tuple(float(e / n) for e, n in zip(extent, shape))
    else:
        shape, network, spacing = tuple(cropped.shape[1:]), cropped, tuple(float(s) for s in ras_spacing)
    grid = NetworkGrid(reference, to_ras, crop, shape, spacing)  # type: ignore[arg-type]
    return np.ascontiguousarray(network, dtype=np.float32), grid


def _resize(array: np.ndarray, shape: Sequence[int], mode: str) -> np.ndarray:
    """Resample (C, I, J, K) to (C, *shape): trilinear (align_corners=False) or nearest."""
    if tuple(array.shape[1:]) == tuple(shape):
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]
    if mode == "nearest":
        out = torch.nn.functional.interpolate(tensor, size=tuple(shape), mode="nearest-exact")
    else:
        out = torch.nn.functional.interpolate(tensor, size=tuple(shape), mode="trilinear", align_corners=False)
    return out[0].numpy()
