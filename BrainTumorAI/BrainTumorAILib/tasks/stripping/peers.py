"""Peer skull strippers as backends, used only when their package is importable: ``deepbet`` (PyPI ``deepbet``,
Fisch et al. 2024, which ships its TorchScript weights). Install it beside the engine with ``make peers`` (into
``.peers/``, on ``PYTHONPATH`` for the bench) or ``pip install deepbet`` in the engine's environment."""

from __future__ import annotations

import numpy as np

from ...core.errors import InputError
from ...core.image import Image

PEERS = ("deepbet",)


def deepbet_mask(image: Image, device: str = "cpu") -> np.ndarray:
    """deepbet's brain mask of ``image`` on its own grid, uint8 0/1 (I, J, K); InputError when it is not installed."""
    try:
        import nibabel as nib
        from deepbet.bet import BrainExtraction
    except ImportError as error:
        raise InputError(f"Skull-stripping method 'deepbet' needs the deepbet package ({error}); install it with "
                         "`pip install deepbet` (or `make peers` for the bench)") from error
    extractor = BrainExtraction(no_gpu=device != "cuda")
    _, mask, _ = extractor.run(nib.Nifti1Image(np.asarray(image.array, dtype=np.float32), image.affine))
    return (np.asarray(mask.dataobj) > 0).astype(np.uint8)
