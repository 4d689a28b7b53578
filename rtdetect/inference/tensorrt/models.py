"""Which ONNX an engine is built from, given what the user named: an .onnx file, a .pt checkpoint or a zoo name.

An .onnx file is used as is. A checkpoint or zoo name goes through the model zoo
(``rtdetect.models.zoo.resolve_model``, a cached static export at ``imgsz``); for ``batch > 1`` the engine
needs a dynamic batch dimension, so the model is exported once more with ``dynamic=True`` into the engine
cache's ``onnx/`` folder, keyed by the content of the static export (which changes with the weights, the
input size and the rtdetect version).
"""
from __future__ import annotations

import os
from pathlib import Path

from ...errors import ModelError
from .cache import engines_dir, file_sha256


def onnx_for_build(model: str | os.PathLike, *, imgsz: tuple[int, int] = (640, 640), batch: int = 1,
                   cache_dir: str | os.PathLike | None = None) -> Path:
    """The ONNX to build an engine from for ``model`` at ``imgsz`` (H, W) and max ``batch``."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    from ...models.zoo import export_model, resolve_model

    static = Path(resolve_model(str(model), imgsz=imgsz))
    if batch <= 1:
        return static
    target = engines_dir(cache_dir) / "onnx" / f"{static.stem}-dynamic-{file_sha256(static)[:16]}.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        export_model(str(model), target, imgsz=imgsz, dynamic=True)
    return target
