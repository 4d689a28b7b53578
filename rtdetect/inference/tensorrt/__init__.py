"""TensorRT: engine build and cache, the precision recipe for TensorRT 10 and 11, the runner, the ``Engine``.

Nothing here imports ``tensorrt`` or ``pycuda`` at import time: the modules that need them import them
inside the function that does (TensorRT through :mod:`.deps`, pycuda through :mod:`rtdetect.gpu.device`),
and their absence is one line naming what to install. The CPU-side parts (the precision recipe, the cache
keys) run anywhere; the ONNX variants they build from are :mod:`rtdetect.inference.onnx_tools`. The fused
GPU pipeline around an engine is :mod:`rtdetect.gpu.processor`.

Modules, one job each:

=============  =========================================================================================
``recipe``     ``precision_recipe(trt_version, precision) -> PrecisionRecipe``: which ONNX, which flags, typing
``cache``      engine cache: keys, paths, sidecar JSON, atomic writes, validation
``models``     which ONNX to build from for an .onnx file, a .pt checkpoint or a zoo name
``toolkit``    the TensorRT build calls (parse, flags, profile, timing cache, serialise)
``builder``    ``build_engine(...) -> EnginePaths``: recipe + cache + toolkit, rebuild of bad engines
``runner``     ``EngineRunner``: deserialisation, named tensors, buffers once, one stream
``engine``     ``TensorRTEngine``: the ``Engine`` protocol over a cached, automatically built engine
``readiness``  what the GPU path needs here (TensorRT, pycuda, driver, device), said in one line
=============  =========================================================================================
"""
from __future__ import annotations

from .engine import TensorRTEngine

__all__ = ["TensorRTEngine"]
