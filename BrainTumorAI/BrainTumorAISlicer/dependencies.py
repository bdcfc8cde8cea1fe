"""First-use install of the engine's Python dependencies inside Slicer (never run in tests: it needs the app).

torch comes from the PyTorch extension's ``PyTorchUtils`` (it picks the CUDA build that matches the GPU); the rest
are the pinned ``Resources/slicer-requirements.txt``, installed with ``pip_ensure`` (Slicer >= 5.12) or
``slicer.util.pip_install`` on older Slicer.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path

REQUIREMENTS_FILE = Path(__file__).resolve().parent.parent / "Resources" / "slicer-requirements.txt"
MINIMUM_TORCH = ">=2.2"


def requirements() -> list[str]:
    """The pinned requirement lines (``name==version``)."""
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS_FILE.read_text().splitlines())
    return [line for line in lines if line]


def missing() -> list[str]:
    """Requirements whose exact pinned version is not installed in this Python."""
    absent = []
    for requirement in requirements():
        name, _, version = requirement.partition("==")
        try:
            if importlib.metadata.version(name) != version:
                absent.append(requirement)
        except importlib.metadata.PackageNotFoundError:
            absent.append(requirement)
    return absent


def torch_installed() -> bool:
    try:
        importlib.metadata.version("torch")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def ensure_installed(*, prompt: bool = True) -> None:
    """Install torch (through PyTorchUtils) and the pinned packages when absent. Runs inside Slicer only."""
    import slicer

    if not torch_installed():
        try:
            import PyTorchUtils
        except ModuleNotFoundError as error:
            raise RuntimeError("BrainTumorAI needs PyTorch: install the 'PyTorch' extension from the Extensions "
                               "Manager, restart Slicer, and try again.") from error
        if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=prompt,
                                                         torchVersionRequirement=MINIMUM_TORCH) is None:
            raise RuntimeError("PyTorch was not installed; BrainTumorAI cannot run without it.")
    absent = missing()
    if not absent:
        return
    pip_ensure = _pip_ensure(slicer)
    if pip_ensure is not None:
        from packaging.requirements import Requirement

        options = {"requester": "BrainTumorAI"}
        asks = [name for name in ("prompt_install", "prompt") if name in inspect.signature(pip_ensure).parameters]
        options.update({asks[0]: prompt} if asks else {})  # the confirmation flag's name changed between versions
        pip_ensure([Requirement(line) for line in absent], **options)
    else:
        slicer.util.pip_install(absent)


def _pip_ensure(slicer):
    """``pip_ensure`` where this Slicer has it (``slicer.packaging`` or, in 5.11, ``slicer.pydeps``), else None."""
    for module_name in ("slicer.packaging", "slicer.pydeps"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, "pip_ensure"):
            return module.pip_ensure
    return None
