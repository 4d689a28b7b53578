"""YOLO models in rtdetect's own PyTorch code: architectures, safe checkpoint import, ONNX export
and the model zoo.

Public API (imported lazily, so ``import rtdetect.models`` does not import torch):

- ``resolve_model(name_or_path, *, imgsz=(640, 640), cache_dir=None) -> Path``: an ONNX file for
  a zoo name (``yolov5s-seg`` = default, ``yolov5s``), an ``.onnx`` or a ``.pt`` path.
- ``export_model(src, out, *, imgsz=(640, 640), dynamic=False, half=False, opset=17) -> Path``.
- ``list_models() -> list[ModelInfo]``; ``DEFAULT_MODEL``.
- ``read_onnx_metadata(path) -> dict``; ``export_onnx(model_or_checkpoint, out_path, ...)``.
- ``load_model(path) -> YoloModel``; ``save_model(model, path)``; ``build_model(name_or_config)``.
- Errors: ``ModelError`` and its subclasses ``UnsafeCheckpointError``, ``CheckpointFormatError``,
  ``UnsupportedModelError``, ``StateDictMismatchError``, ``ModelNotFoundError``.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "resolve_model": "zoo", "export_model": "zoo", "list_models": "zoo", "ModelInfo": "zoo",
    "DEFAULT_MODEL": "zoo", "read_onnx_metadata": "export", "export_onnx": "export",
    "load_model": "loader", "save_model": "loader", "YoloModel": "model",
    "build_model": "build", "builtin_config": "configs", "builtin_names": "configs",
    "detection_variant": "variants", "COCO80_NAMES": "coco", "cache_root": "cache",
    "ModelError": "errors", "UnsafeCheckpointError": "errors", "CheckpointFormatError": "errors",
    "UnsupportedModelError": "errors", "StateDictMismatchError": "errors",
    "ModelNotFoundError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
