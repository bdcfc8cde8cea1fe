"""Run a segmentation network over a network array: sliding windows (``inference.windows``), flip TTA, uncertainty.

Arrays here live on the network grid of ``inputs.network_input`` (RAS axes, cropped to the brain's box): the input
is (C, I', J', K') float32 and every output keeps the spatial shape (I', J', K'). Geometry stays with
``inputs.NetworkGrid``; this file never looks at affines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Callable, Mapping

import numpy as np
import torch
from tqdm import tqdm

from ...core.errors import ModelError
from ...inference.windows import WindowSettings, window_logits
from .inputs import activate

Progress = Callable[[float, str], None]
# identity, then a mirror along each spatial axis of a (B, C, I, J, K) tensor
TTA_FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (3,), (4,))


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Mean probabilities (C, I', J', K') float32 and, with TTA, the std of the tumour probability (I', J', K')."""

    probabilities: np.ndarray
    spread: np.ndarray | None


def predict(model: torch.nn.Module, array: np.ndarray, outputs: Mapping[str, Any], settings: WindowSettings, *,
            device: torch.device, tta: bool = False, progress: Progress | None = None) -> Prediction:
    """Probabilities of ``model`` over the network array (C, I', J', K'), averaged over flips when ``tta``.

    Runs under ``torch.inference_mode``, with float16 autocast on CUDA and channels-last memory on the CPU.
    """
    flips = TTA_FLIPS if tta else ((),)
    settings = settings.fitted(array.shape[1:])
    windows_per_pass = math.ceil(settings.window_count(array.shape[1:]) / settings.sw_batch_size)
    total = windows_per_pass * len(flips)
    bar = tqdm(total=total, desc="Segmenting", unit="batch", leave=False, disable=None)
    done = [0]

    def network(batch: torch.Tensor) -> torch.Tensor:
        if device.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last_3d)
        result = model(batch).float()
        done[0] += 1
        bar.update(1)
        if progress:
            progress(min(done[0] / total, 1.0), "segmenting")
        return result

    autocast = torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else contextlib.nullcontext()
    inputs = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None].to(device)
    # pad at the far end up to the window (MONAI would pad both ends, moving the windows off the grid's stride phase)
    shortfall = [max(roi - size, 0) for roi, size in zip(settings.roi_size, array.shape[1:])]
    inputs = torch.nn.functional.pad(inputs, [amount for n in reversed(shortfall) for amount in (0, n)])
    inside = (slice(None), *[slice(0, size) for size in array.shape[1:]])
    passes = []
    try:
        with torch.inference_mode(), autocast:
            for axes in flips:
                flipped = torch.flip(inputs, axes) if axes else inputs
                logits = window_logits(network, flipped, settings)
                logits = torch.flip(logits, axes) if axes else logits
                _check_channels(logits, outputs)
                passes.append(activate(logits.float(), outputs)[0][inside].cpu().numpy())
    finally:
        bar.close()
    probabilities = np.mean(passes, axis=0).astype(np.float32) if len(passes) > 1 else passes[0]
    spread = None
    if tta:
        spread = np.std([tumour_probability(p, outputs) for p in passes], axis=0).astype(np.float32)
    return Prediction(probabilities, spread)


def prepare_model(model: torch.nn.Module, device: torch.device, n_inputs: int, model_id: str) -> torch.nn.Module:
    """Move ``model`` to ``device`` for inference; raise ModelError when it does not take ``n_inputs`` channels."""
    first_conv = next((p for p in model.parameters() if p.ndim == 5), None)
    if first_conv is not None and first_conv.shape[1] != n_inputs:
        raise ModelError(f"Model '{model_id}' takes {first_conv.shape[1]} input channels but its card lists "
                         f"{n_inputs} input sequences")
    model = model.to(device).eval()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last_3d)
    return model


def tumour_probability(probabilities: np.ndarray, outputs: Mapping[str, Any]) -> np.ndarray:
    """P(whole tumour) per voxel, (I, J, K), from probabilities (C, I, J, K) of the card's channels."""
    channels = list(outputs["channels"])
    if outputs.get("activation") == "softmax":
        return 1.0 - probabilities[channels.index("background")]
    if "WT" in channels:
        return probabilities[channels.index("WT")]
    return probabilities.max(axis=0)


def _check_channels(logits: torch.Tensor, outputs: Mapping[str, Any]) -> None:
    expected = len(outputs["channels"])
    if logits.shape[1] != expected:
        raise ModelError(f"The network gives {logits.shape[1]} output channels but its card names {expected} "
                         f"({', '.join(outputs['channels'])})")
