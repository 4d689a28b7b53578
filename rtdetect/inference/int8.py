"""The INT8 model for ``--precision int8`` on the CPU backends, one recipe per runtime, each calibrated on
real frames, made once per (model, calibration frames, frame count, input size, recipe) and cached (with its
SHA-256 beside it) under the rtdetect cache directory:

* ONNX Runtime: the u8s8 Q/DQ ONNX of :mod:`rtdetect.inference.onnx_tools.quantize` (``CPU_RECIPE``: the
  detection head left float); the engine sets ``session.x64quantprecision`` so that it does not saturate on
  x86 CPUs without VNNI.
* OpenVINO: NNCF's post-training quantization (:mod:`rtdetect.inference.onnx_tools.nncf_quantize`: MIXED
  preset, the head in the ignored scope, the overflow fix on), stored as OpenVINO IR in one tar.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import cache_root
from ..errors import ModelError
from ..models.cache import build_once
from ..notes import quiet_root_logger
from .base import FrameSupply

TAGS = {"onnxruntime": "ort", "openvino": "nncf"}  # in the cached file's name


def recipe_of(backend: str) -> str:
    """The name of ``backend``'s INT8 recipe (part of the cache key)."""
    from .onnx_tools.nncf_quantize import NNCF_RECIPE
    from .onnx_tools.quantize import CPU_RECIPE

    if backend not in TAGS:
        raise ModelError(f"no CPU INT8 recipe for backend {backend!r}")
    return NNCF_RECIPE if backend == "openvino" else CPU_RECIPE.name


def int8_key(model_path: str, identity: str, frames: int, imgsz: tuple[int, int], recipe: str) -> str:
    """The cache key of an INT8 model: the float model's content, the calibration frames' ``identity``,
    their count, the input size and the recipe."""
    from ..models.cache import file_sha256
    from .onnx_tools.calibration import calibration_fingerprint

    return calibration_fingerprint(f"{file_sha256(model_path)}|{identity}", frames, imgsz, recipe)[:16]


def int8_model(model_path: str, *, backend: str, calibration: FrameSupply, frames: int, imgsz: tuple[int, int],
               cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The cached INT8 model of the float32 ONNX ``model_path`` for ``backend`` (onnxruntime: a Q/DQ ONNX;
    openvino: an OpenVINO IR tar),
    calibrated on ``frames`` frames of ``calibration``; built on first use (takes a while) and again when
    its checksum no longer matches (:func:`rtdetect.models.cache.build_once`).

    Frames are prepared at the model's own input size where it is fixed, else at ``imgsz``. The file
    lives in ``cache_dir/int8`` (default: the rtdetect cache root); ``progress`` prints calibration
    progress on stderr."""
    from .onnx_tools.nncf_quantize import IR_SUFFIX, write_int8_nncf
    from .onnx_tools.quantize import CPU_RECIPE, progress_printer, write_int8_qdq
    from .onnx_tools.variants import inspect_onnx

    recipe = recipe_of(backend)
    shape = inspect_onnx(model_path).input_shape
    hw = (shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else tuple(imgsz)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    key = int8_key(model_path, calibration.identity(), frames, hw, recipe)
    suffix = IR_SUFFIX if backend == "openvino" else ".onnx"
    target = root / "int8" / f"{Path(model_path).stem}-int8-{TAGS[backend]}-{key}{suffix}"
    on_frame = progress_printer(frames) if progress else None

    def tensors():
        return (calibration.prepare(image, hw, np.dtype(np.float32)) for image in calibration.frames(frames))

    def calibrate(path: Path) -> Path:
        if backend == "openvino":
            return write_int8_nncf(model_path, path, tensors, count=frames, on_frame=on_frame)
        # ONNX Runtime's quantizer logs advice ("consider pre-processing") on the root logger.
        with quiet_root_logger():
            return write_int8_qdq(model_path, path, tensors(), recipe=CPU_RECIPE, on_frame=on_frame)

    return build_once(target, calibrate)
