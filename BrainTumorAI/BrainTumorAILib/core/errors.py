"""Errors the engine raises for problems a user can fix.

Every message names the problem and the file (or model id) it concerns, so the CLI, the batch script and the
Slicer panel can show it as it is.
"""


class BrainTumorAIError(Exception):
    """Base class of every error the engine reports to a user."""


class InputError(BrainTumorAIError):
    """An input image or case is missing, unreadable or unusable."""


class ModelError(BrainTumorAIError):
    """The model registry, a model card or a weights file is wrong or unavailable."""


class DownloadError(BrainTumorAIError):
    """A download failed, broke off or did not match its sha256."""


class Cancelled(BrainTumorAIError):
    """The user cancelled a running job."""
