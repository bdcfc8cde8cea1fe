"""Classify 2D images with a classification model card: network input, probabilities, files to CSV rows."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ...core.device import select_device
from ...core.errors import InputError
from ...core.registry import ModelCard, Registry
from ...core.weights import load_model
from .dataset import CLASSES, image_files, read_image
from .standardise import standardise


def network_input(images: torch.Tensor) -> torch.Tensor:
    """(B, S, S) grayscale in [0, 1] -> (B, 3, S, S) float32, the three channels equal (the 128x128x3 input)."""
    return images.float().unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


@dataclasses.dataclass
class Classifier:
    """A loaded 2D classifier: ``probabilities((N, S, S) in [0, 1]) -> (N, 4)`` in the order of CLASSES."""

    card: ModelCard
    network: torch.nn.Module
    device: torch.device

    @classmethod
    def load(cls, model_id: str | None = None, device: str = "auto") -> "Classifier":
        card = Registry.load().resolve("classification", model_id)
        target = select_device(device)
        network = load_model(card, progress=False).float().to(target).eval()
        return cls(card, network, target)

    @property
    def image_size(self) -> int:
        return int(self.card.preprocessing["image_size"])

    @property
    def frames_head(self) -> bool:
        """Whether 2D files are cropped to the head before resizing (``preprocessing.frame``)."""
        return bool(self.card.preprocessing.get("frame", False))

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S) float images in [0, 1] -> the network's view of them: standardised as the card says
        (``preprocessing.standardise``)."""
        method = str(self.card.preprocessing.get("standardise", "minmax"))
        return standardise(np.ascontiguousarray(images, dtype=np.float32), method)

    def probabilities(self, images: np.ndarray, prepared: bool = False) -> np.ndarray:
        """(N, S, S) float images in [0, 1] (``prepared``: already through ``prepare``) -> (N, 4) softmax
        probabilities; batched, optional flip averaging."""
        batch = int(self.card.inference.get("batch_size", 32))
        flip = bool(self.card.inference.get("flip_tta", False))
        tensor = torch.from_numpy(images if prepared else self.prepare(images))
        out = []
        with torch.no_grad():
            for start in range(0, len(tensor), batch):
                chunk = network_input(tensor[start:start + batch]).to(self.device)
                probability = torch.softmax(self.network(chunk), 1)
                if flip:
                    probability = (probability + torch.softmax(self.network(chunk.flip(-1)), 1)) / 2
                out.append(probability.cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(CLASSES)), np.float32)


@dataclasses.dataclass(frozen=True)
class ImageResult:
    path: Path
    label: str | None
    probabilities: tuple[float, ...] | None
    error: str | None = None


def classify_files(paths: Iterable[str | os.PathLike], classifier: Classifier,
                   batch_size: int = 32) -> Iterator[ImageResult]:
    """One result per image file (folders walked recursively); an unreadable file gives a result with ``error``."""
    pending: list[tuple[Path, np.ndarray]] = []

    def flush() -> Iterator[ImageResult]:
        if pending:
            probabilities = classifier.probabilities(np.stack([image for _, image in pending]))
            for (path, _), row in zip(pending, probabilities):
                yield ImageResult(path, CLASSES[int(row.argmax())], tuple(float(p) for p in row))
            pending.clear()

    for path in image_files(paths):
        try:
            pending.append((path, read_image(path, classifier.image_size, classifier.frames_head)))
        except InputError as error:
            yield ImageResult(path, None, None, str(error))
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()
