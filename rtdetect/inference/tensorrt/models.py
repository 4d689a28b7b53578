"""Which ONNX an engine is built from, given what the user named: an .onnx file, a .pt checkpoint or a zoo name.

An .onnx file is used as is. A checkpoint or zoo name goes through the model zoo
(``rtdetect.models.zoo.resolve_model``, a cached export at ``imgsz``); for ``batch > 1`` the engine needs a
dynamic batch dimension, so the zoo's dynamic export is used (cached beside the static one).
"""
from __future__ import annotations

import os
from pathlib import Path

from ...errors import ModelError


def onnx_for_build(model: str | os.PathLike, *, imgsz: tuple[int, int] = (640, 640), batch: int = 1) -> Path:
    """The ONNX to build an engine from for ``model`` at ``imgsz`` (H, W) and max ``batch``."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    from ...models.zoo import resolve_model

    return Path(resolve_model(str(model), imgsz=imgsz, dynamic=batch > 1))
