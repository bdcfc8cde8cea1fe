"""Where and how torch runs: device choice, CPU threads and seeds."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .errors import BrainTumorAIError
from .vocabulary import DEVICE_CHOICES


def select_device(choice: str = "auto") -> torch.device:
    """``auto`` = CUDA when available, else CPU; asking for ``cuda`` without a GPU is an error."""
    if choice not in DEVICE_CHOICES:
        raise BrainTumorAIError(f"Unknown device '{choice}' (choose one of {', '.join(DEVICE_CHOICES)})")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise BrainTumorAIError("Device 'cuda' was asked for but no CUDA GPU is available")
        return torch.device("cuda")
    return torch.device("cpu")


def set_threads(threads: int | None) -> int:
    """Use ``threads`` CPU threads (default: ``$BRAINTUMORAI_THREADS`` or all cores); return the count in force."""
    if threads is None:
        threads = int(os.environ.get("BRAINTUMORAI_THREADS", 0)) or (os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX-512 BF16 or
    AMX (oneDNN's bfloat16 kernels). Elsewhere bfloat16 is emulated, about 15x slower than float32 on an AVX2 CPU."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(supported is not None and supported())


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
