"""Errors raised by the model layer.

Every failure to understand a model file or a config is one of these, with a message that names
what was not understood, so a user can tell a broken file from an unsupported one. All are kinds of the
one :class:`rtdetect.errors.ModelError` (an input error: the CLI prints it as one line).
"""
from __future__ import annotations

from ..errors import ModelError

__all__ = ["ModelError", "UnsafeCheckpointError", "CheckpointFormatError", "UnsupportedModelError",
           "StateDictMismatchError", "ModelNotFoundError", "ExportArgumentError"]


class UnsafeCheckpointError(ModelError):
    """A checkpoint's pickle names a global that is not on the allow-list (it would run code)."""


class CheckpointFormatError(ModelError):
    """A checkpoint file is truncated, corrupt, or not a PyTorch/rtdetect checkpoint at all."""


class UnsupportedModelError(ModelError):
    """A well-formed model that rtdetect does not implement (unknown block, head, or layout)."""


class StateDictMismatchError(ModelError):
    """Checkpoint tensors do not match the architecture built from its config."""


class ModelNotFoundError(ModelError):
    """A zoo name or path that does not resolve to a model file."""


class ExportArgumentError(ModelError, ValueError):
    """An export argument out of range for this model (input size, opset); a ValueError for API callers."""
