"""The TensorRT calls of an engine build: parse the ONNX, configure, profile, timing cache, serialise.

Written against the TensorRT 10 and 11 Python API (checked in the 10.13 and 11.4 bindings' docstrings):
``Builder.create_network(flags)``, ``OnnxParser.parse_from_file`` / ``num_errors`` / ``get_error``,
``IBuilderConfig.set_memory_pool_limit(MemoryPoolType.WORKSPACE, n)``, ``set_flag`` / ``clear_flag``,
``Builder.create_optimization_profile`` + ``IOptimizationProfile.set_shape(name, min, opt, max)`` +
``IBuilderConfig.add_optimization_profile``, ``IBuilderConfig.create_timing_cache(bytes)`` ("an empty cache
is provided (b"") ... a new cache will be created") / ``set_timing_cache(cache, ignore_mismatch)`` /
``get_timing_cache()`` + ``ITimingCache.serialize()``, ``Builder.build_serialized_network(network,
config)`` and ``Runtime.deserialize_cuda_engine(buffer)`` ("None if it could not be deserialized").

This module needs a GPU; the orchestration around it (:mod:`rtdetect.inference.tensorrt.builder`) does not, and is
tested with a fake of this class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ...atomic import atomic_write_bytes
from ...gpu.device import DeviceInfo, PrimaryContext, query_device
from ...notes import note
from .deps import create_builder, create_runtime, import_tensorrt
from .errors import EngineBuildError
from .recipe import PrecisionRecipe

DEFAULT_WORKSPACE_GB = 4.0


class TensorRTToolkit:
    """Real TensorRT on CUDA device ``device``. ``trt_version`` and ``device_info`` feed the cache key;
    ``serialize`` builds a recipe. Use as a context manager (it holds the device's primary context)."""

    def __init__(self, device: int = 0, *, workspace_gb: float = DEFAULT_WORKSPACE_GB,
                 log: Callable[[str], None] = note) -> None:
        self._trt = import_tensorrt()
        self.trt_version = str(self._trt.__version__)
        self.device_info: DeviceInfo = query_device(device)
        self._context = PrimaryContext(device)
        self._workspace = int(workspace_gb * (1 << 30))
        self._log = log
        try:  # TensorRT must start here before any build is announced (nullptr: one clear line)
            with self._context.active():
                create_builder(self._trt, self._trt.Logger(self._trt.Logger.ERROR))
        except BaseException:
            self._context.close()
            raise

    def serialize(self, onnx_path: Path, recipe: PrecisionRecipe, input_name: str,
                  shapes: Sequence[tuple[int, ...]], timing_cache: Path) -> bytes:
        """Build ``onnx_path`` per ``recipe`` with the (min, opt, max) ``shapes`` for ``input_name``; the
        timing cache at ``timing_cache`` is loaded first and written back after. Returns the recipe bytes."""
        trt = self._trt
        with self._context.active():
            logger = trt.Logger(trt.Logger.WARNING)
            builder = create_builder(trt, logger)
            try:
                network, parser = self._parse(builder, logger, onnx_path, recipe)  # the parser outlives the build
                config = self._config(builder, recipe, input_name, shapes)
                self._attach_timing_cache(config, timing_cache)
                serialized = builder.build_serialized_network(network, config)
                if serialized is None:
                    raise EngineBuildError(f"TensorRT could not build an engine from {onnx_path} "
                                           f"({recipe.describe()}); see the TensorRT messages above")
                self._save_timing_cache(config, timing_cache)
                return bytes(serialized)
            finally:  # TensorRT objects are destroyed here, with the context still current
                network = parser = config = serialized = builder = None

    def _parse(self, builder, logger, onnx_path: Path, recipe: PrecisionRecipe):
        trt = self._trt
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if recipe.strongly_typed else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineBuildError(f"TensorRT cannot parse {onnx_path}: {errors or 'unknown error'}")
        return network, parser

    def _config(self, builder, recipe: PrecisionRecipe, input_name: str, shapes: Sequence[tuple[int, ...]]):
        trt = self._trt
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self._workspace)
        for name in recipe.builder_flags:
            config.set_flag(getattr(trt.BuilderFlag, name))
        for name in recipe.cleared_flags:
            config.clear_flag(getattr(trt.BuilderFlag, name))
        profile = builder.create_optimization_profile()
        profile.set_shape(input_name, *(tuple(s) for s in shapes))
        if config.add_optimization_profile(profile) < 0:  # -1: TensorRT found the profile invalid
            raise EngineBuildError(f"TensorRT rejected the optimisation profile of input {input_name} "
                                   f"(min, opt, max = {', '.join(str(tuple(s)) for s in shapes)})")
        return config

    def _attach_timing_cache(self, config, path: Path) -> None:
        data = path.read_bytes() if path.is_file() else b""
        cache = config.create_timing_cache(data)
        if cache is None or not config.set_timing_cache(cache, False):
            self._log(f"timing cache {path.name} is unusable (other TensorRT or GPU?); starting a new one")
            config.set_timing_cache(config.create_timing_cache(b""), False)

    def _save_timing_cache(self, config, path: Path) -> None:
        cache = config.get_timing_cache()
        if cache is not None:
            atomic_write_bytes(path, bytes(cache.serialize()))

    def can_deserialize(self, data: bytes) -> bool:
        """True when TensorRT here deserialises ``data`` (a quick check of a cached recipe)."""
        trt = self._trt
        with self._context.active():
            runtime = create_runtime(trt, trt.Logger(trt.Logger.ERROR))
            try:
                return runtime.deserialize_cuda_engine(data) is not None
            except (RuntimeError, ValueError, TypeError):  # pybind11's translation of a C++ failure
                return False

    def close(self) -> None:
        self._context.close()

    def __enter__(self) -> "TensorRTToolkit":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
