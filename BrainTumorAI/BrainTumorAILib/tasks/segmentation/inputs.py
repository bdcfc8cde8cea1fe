"""The segmentation network's input, shared by training and inference, and its exact way back.

``network_input`` turns images on one grid into the array a segmentation model sees:

1. axes permuted and flipped to RAS (no interpolation), so that a model sees every case the same way round;
2. each channel z-scored over its own foreground (``preprocess.zscore``; works for background 0 and for the
   deepmedic cases' -3.16), 0 outside;
3. cropped to the union of the channels' foregrounds grown by ``crop_margin_mm`` (the brain's box);
4. optionally resampled (trilinear) to ``spacing_mm`` on the lattice MONAI's ``Spacing`` uses: voxel centres at
   RAS voxel 0 plus whole steps of ``spacing_mm``, so that the brain box of the network grid is voxel for voxel a
   crop of what ``Orientation`` + ``Spacing`` give for the whole volume (a model trained here runs the same in a
   MONAI pipeline, and the other way round); the crop starts at a multiple of ``multiple`` lattice voxels (the
   network's stride) and spans a multiple of it.

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

from ...core import preprocess
from ...core.errors import InputError
from ...core.image import Image

DEFAULT_MARGIN_MM = 8.0


@dataclasses.dataclass(frozen=True)
class NetworkGrid:
    """How the network array relates to the reference grid.

    ``to_ras`` is the nibabel orientation transform from the reference voxel axes to RAS; ``crop`` is the brain box
    on the RAS-ordered array; ``shape`` is the network array's spatial shape after resampling, ``spacing`` its voxel
    size in mm. Network voxel n lies at ``start + n * step`` in voxels of the cropped array (per axis).
    """

    reference: Image
    to_ras: np.ndarray
    crop: preprocess.Crop
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    step: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def cropped_shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in zip(self.crop.start, self.crop.stop))  # type: ignore[return-value]

    def labels_to_network(self, classes: np.ndarray) -> np.ndarray:
        """A class map (I, J, K) on the reference grid -> (I', J', K') uint8 on the network grid (nearest)."""
        if classes.shape != self.reference.shape:
            raise InputError(f"Label map shape {classes.shape} does not match the images' grid {self.reference.shape}")
        ras = nib.orientations.apply_orientation(np.asarray(classes), self.to_ras)
        cropped = self.crop.apply(ras)
        return _sample(cropped[None], self.start, self.step, self.shape, order=0)[0].astype(np.uint8)

    def to_reference(self, output: np.ndarray, *, fill: float | Sequence[float] = 0.0,
                     mode: str = "linear") -> np.ndarray:
        """A network output (C, I', J', K') -> (C, I, J, K) on the reference grid, voxel for voxel.

        ``mode`` "linear" for probabilities or logits, "nearest" for class maps; ``fill`` is the value outside the
        brain box, one number or one per channel (e.g. 1 for a softmax background channel).
        """
        return self._paste(self._to_box(output, mode), fill)

    def classes_to_reference(self, probabilities: np.ndarray, outputs: Mapping[str, Any]) -> np.ndarray:
        """Network probabilities (C, I', J', K') -> class map (I, J, K) uint8 on the reference grid, 0 outside the
        brain box: as ``classes_from_probabilities(to_reference(...))``, but only around the predicted tumour.

        A reference voxel whose interpolation corners are all background on the network grid is background too
        (a convex combination keeps the largest softmax channel largest and a sigmoid at or under 0.5), so only the
        network grid's tumour box grown by one voxel gets resampled: the same classes at a fraction of the cost.
        """
        self._check_output(probabilities)
        box = np.zeros(self.cropped_shape, dtype=np.uint8)
        tumour = classes_from_probabilities(probabilities, outputs) > 0
        if tumour.any():
            network_box = preprocess.bounding_box(tumour, margin=1)
            inside, start = [], []
            for axis, (low, high) in enumerate(zip(network_box.start, network_box.stop)):
                step, origin = 1.0 / self.step[axis], -self.start[axis] / self.step[axis]
                # box voxels n at network position origin + n * step inside [low, high - 1]; at an end of the
                # network grid, every voxel beyond it too (edge values continue there)
                begin = 0 if low == 0 else max(0, int(np.ceil((low - origin) / step - 1e-9)))
                end = self.cropped_shape[axis] if high == self.shape[axis] else \
                    min(self.cropped_shape[axis], int(np.floor((high - 1 - origin) / step + 1e-9)) + 1)
                inside.append(slice(begin, max(begin, end)))
                start.append(origin + begin * step - low)
            near = _sample(network_box.apply(probabilities), start, [1.0 / d for d in self.step],
                           [s.stop - s.start for s in inside], order=1, outside="edge")
            box[tuple(inside)] = classes_from_probabilities(near, outputs)
        return self._paste(box[None], 0)[0]

    def _check_output(self, output: np.ndarray) -> None:
        if output.ndim != 4 or tuple(output.shape[1:]) != self.shape:
            raise ValueError(f"Network output shape {output.shape} does not match the network grid {self.shape}")

    def _to_box(self, output: np.ndarray, mode: str) -> np.ndarray:
        """(C, I', J', K') on the network grid -> (C, *cropped_shape) on the RAS brain box."""
        self._check_output(output)
        inverse_step = tuple(1.0 / d for d in self.step)
        inverse_start = tuple(-a / d for a, d in zip(self.start, self.step))
        resized = _sample(output, inverse_start, inverse_step, self.cropped_shape,
                          order=1 if mode == "linear" else 0, outside="edge")
        return resized.astype(output.dtype, copy=False)

    def _paste(self, box: np.ndarray, fill: float | Sequence[float]) -> np.ndarray:
        """(C, *cropped_shape) -> (C, I, J, K): into the RAS volume filled with ``fill``, then to the reference axes."""
        fills = np.broadcast_to(np.asarray(fill, dtype=np.float64), (box.shape[0],))
        back = ornt_transform(axcodes2ornt(("R", "A", "S")), io_orientation(self.reference.affine))
        full = np.empty((box.shape[0], *self.reference.shape), dtype=box.dtype)
        ras = np.empty(self.crop.shape, dtype=box.dtype)
        for channel in range(box.shape[0]):
            ras.fill(fills[channel])
            ras[self.crop.slices] = box[channel]
            full[channel] = nib.orientations.apply_orientation(ras, back)
        return full


def activate(logits: torch.Tensor, outputs: Mapping[str, Any]) -> torch.Tensor:
    """Logits (B, C, ...) -> probabilities with the card's ``outputs.activation`` (softmax over C, or sigmoid)."""
    if outputs.get("activation", "softmax") == "softmax":
        return torch.softmax(logits, dim=1)
    return torch.sigmoid(logits)


def classes_from_probabilities(probabilities: np.ndarray, outputs: Mapping[str, Any]) -> np.ndarray:
    """Probabilities (C, I, J, K) -> class map (I, J, K) uint8 (0 bg, 1 NCR, 2 ED, 3 ET, labels.py).

    Softmax channels: argmax. Sigmoid region channels (any of WT, TC, ET) at 0.5, nested: ET -> 3, TC without ET
    -> 1, WT without TC -> 2; a WT-only model therefore yields 2 for its whole tumour.
    """
    channels = list(outputs["channels"])
    if outputs.get("activation", "softmax") == "softmax":
        # argmax over channels, first channel on ties, one pass per channel (np.argmax along axis 0 is strided)
        classes = np.zeros(probabilities.shape[1:], dtype=np.uint8)
        largest = probabilities[0].copy()
        for channel in range(1, probabilities.shape[0]):
            classes[probabilities[channel] > largest] = channel
            np.maximum(largest, probabilities[channel], out=largest)
        return classes
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
    """(preprocessing dict, channel order or None) from a ModelCard (or training config) or a bare preprocessing
    dict."""
    if isinstance(card_or_preprocessing, Mapping):
        return dict(card_or_preprocessing), None
    return dict(card_or_preprocessing.preprocessing), list(card_or_preprocessing.inputs)


def optional_inputs(preprocessing: Mapping[str, Any]) -> list[str]:
    """The inputs a model runs without (``preprocessing.optional_inputs``): a missing one is fed as a channel of
    zeros, the value its normalised brain has on average, as in training (channels dropped at random)."""
    return list(preprocessing.get("optional_inputs", []))


def required_inputs(card_or_config: Any) -> list[str]:
    """The card's inputs less its optional ones, in the card's order."""
    optional = set(optional_inputs(card_or_config.preprocessing))
    return [name for name in card_or_config.inputs if name not in optional]


def network_input(images: Mapping[str, Image], card_or_preprocessing: Any) -> tuple[np.ndarray, NetworkGrid]:
    """Images on one grid -> ((C, I', J', K') float32 network array, NetworkGrid).

    Channels follow the card's ``inputs`` order (or the mapping's order for a bare preprocessing dict); an absent
    input that the preprocessing lists as optional becomes a channel of zeros. Raises InputError when another
    channel is missing or the images are not on one grid.
    """
    preprocessing, order = preprocessing_of(card_or_preprocessing)
    order = order or list(images)
    optional = optional_inputs(preprocessing)
    missing = [name for name in order if name not in images and name not in optional]
    if missing:
        raise InputError(f"The segmentation model needs {', '.join(missing)} (given: {', '.join(images) or 'none'})")
    present = [name for name in order if name in images]
    if not present:
        raise InputError(f"The segmentation model needs at least one of {', '.join(order)} (given: none)")
    array, grid = _present_channels(images, present, preprocessing)
    if len(present) == len(order):
        return array, grid
    full = np.zeros((len(order), *array.shape[1:]), dtype=np.float32)
    for index, name in enumerate(present):
        full[order.index(name)] = array[index]
    return full, grid


def _present_channels(images: Mapping[str, Image], order: list[str], preprocessing: Mapping[str, Any]
                      ) -> tuple[np.ndarray, NetworkGrid]:
    """``network_input`` for channels that are all there, in ``order``."""
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

    def in_ras(array: np.ndarray) -> np.ndarray:
        return nib.orientations.apply_orientation(array, to_ras)  # flips and transposes: a view, no copy

    masks = [in_ras(preprocess.foreground_mask(images[name].array)) for name in order]
    ras_spacing = np.asarray(reference.spacing)[np.argsort(to_ras[:, 0].astype(int))]
    margin_mm = float(preprocessing.get("crop_margin_mm", DEFAULT_MARGIN_MM))
    margin = tuple(int(np.ceil(margin_mm / s)) for s in ras_spacing)
    crop = preprocess.bounding_box(np.logical_or.reduce(masks), margin)
    # the box holds every foreground voxel, so normalising inside it gives the whole volume's statistics
    cropped = np.stack([normalise(crop.apply(in_ras(images[name].array)), crop.apply(mask))
                        for name, mask in zip(order, masks)]).astype(np.float32, copy=False)

    target = preprocessing.get("spacing_mm")
    if not target:
        grid = NetworkGrid(reference, to_ras, crop, tuple(cropped.shape[1:]), tuple(float(s) for s in ras_spacing))
        return np.ascontiguousarray(cropped, dtype=np.float32), grid  # type: ignore[arg-type]
    targets = np.broadcast_to(np.asarray(target, dtype=np.float64), (3,))
    step = targets / ras_spacing  # one network voxel in voxels of the RAS array
    # lattice voxels spanning the box, widened to whole multiples of the network's stride from lattice voxel 0, so
    # that windows fall on the same phase of the stride wherever the box lies (beyond the box all is background, 0)
    multiple = int(preprocessing.get("multiple", 1))
    first = np.floor(np.ceil(np.asarray(crop.start) / step - 1e-6) / multiple) * multiple
    last = np.floor((np.asarray(crop.stop) - 1) / step + 1e-6)
    shape = tuple(int(np.ceil((b - a + 1) / multiple) * multiple) for a, b in zip(first, last))
    start = first * step - np.asarray(crop.start)
    grid = NetworkGrid(reference, to_ras, crop, shape, tuple(float(t) for t in targets),  # type: ignore[arg-type]
                       tuple(float(a) for a in start), tuple(float(d) for d in step))  # type: ignore[arg-type]
    return _sample(cropped, grid.start, grid.step, shape, order=1), grid


def _sample(array: np.ndarray, start: Sequence[float], step: Sequence[float], shape: Sequence[int], *,
            order: int, outside: str = "zero") -> np.ndarray:
    """(C, I, J, K) sampled at voxels ``start + n * step`` per axis, n < ``shape``: linear (``order`` 1, one axis
    after the other, which is trilinear) or nearest (0); ``outside`` "zero" (the array continues as 0) or "edge" (its
    edge values). -> (C, *shape), float32 for linear, the input's dtype for nearest."""
    if tuple(shape) == tuple(array.shape[1:]) and not any(start) and all(d == 1.0 for d in step):
        return np.ascontiguousarray(array)
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    for axis in range(3):
        weights = _axis_weights(start[axis], step[axis], int(shape[axis]), tensor.shape[axis + 1], order, outside)
        tensor = torch.movedim(torch.tensordot(weights, tensor, dims=([1], [axis + 1])), 0, axis + 1)
    out = tensor.contiguous().numpy()
    return out if order else np.rint(out).astype(array.dtype)


def _axis_weights(start: float, step: float, size_out: int, size_in: int, order: int, outside: str) -> torch.Tensor:
    """The (size_out, size_in) matrix of 1-D interpolation weights that samples positions ``start + n * step``."""
    position = start + step * np.arange(size_out, dtype=np.float64)
    if order:
        low = np.floor(position)
        taps = [(low, 1.0 - (position - low)), (low + 1, position - low)]
    else:
        taps = [(np.floor(position + 0.5), np.ones(size_out))]
    weights = torch.zeros(size_out, size_in, dtype=torch.float64)
    rows = torch.arange(size_out)
    for index, weight in taps:
        if outside == "edge":
            index = np.clip(index, 0, size_in - 1)
        inside = (index >= 0) & (index < size_in)
        columns = torch.from_numpy(np.where(inside, index, 0).astype(np.int64))
        weights.index_put_((rows, columns), torch.from_numpy(np.where(inside, weight, 0.0)), accumulate=True)
    return weights.float()
