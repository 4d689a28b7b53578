"""Errors of the TensorRT backend; all are ``ModelError`` so the CLI prints them as one line."""
from __future__ import annotations

from ...errors import ModelError


class TensorRTUnavailable(ModelError):
    """TensorRT is missing, or cannot start on this machine (no device, a driver too old for its build)."""


class EngineBuildError(ModelError):
    """TensorRT could not parse the ONNX or build an engine from it."""


class EngineLoadError(ModelError):
    """A serialised engine could not be deserialised (corrupt, or built by another TensorRT or GPU)."""
