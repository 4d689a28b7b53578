"""Engine build with a cache: the precision recipe, the derived ONNX, the key, the build, the rebuild.

``build_engine(onnx_path, precision=..., batch=..., imgsz=..., calibration=...)`` returns the cached
engine when everything in its key matches and its files check out; otherwise it builds (minutes on a
Jetson, hence the cache and the shared timing cache) and stores it atomically. A cached engine that is
corrupt or incompatible is reported on stderr, discarded and rebuilt; it never crashes the run.

The orchestration (:class:`EngineBuilder`, :func:`open_engine`) takes a *toolkit* object for the three
things only TensorRT can do (version/device facts, ``serialize``, ``can_deserialize``), so the cache logic
is tested on the CPU with a fake toolkit; :class:`rtdetect.inference.tensorrt.toolkit.TensorRTToolkit` is the real one.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence, TypeVar

import numpy as np

from ...errors import ModelError
from ...gpu.device import DeviceInfo
from ...models.cache import build_once
from ...notes import note
from ..base import FrameSupply
from ..onnx_tools.calibration import DEFAULT_CALIB_FRAMES, calibration_fingerprint
from ..onnx_tools.quantize import RECIPE, progress_printer, write_int8_qdq
from ..onnx_tools.variants import OnnxInfo, inspect_onnx, profile_shapes, write_fp16_variant
from .cache import (EngineKey, EnginePaths, build_lock, discard, engine_paths, engines_dir, file_sha256,
                    timing_cache_path, validate, write_engine)
from .errors import EngineLoadError
from .recipe import ONNX_FP16, ONNX_QDQ_INT8, ONNX_SOURCE, PRECISIONS, PrecisionRecipe, precision_recipe

T = TypeVar("T")
INT8_NEEDS_CALIBRATION = ("--precision int8 needs --calib-source VIDEO|DIR: hundreds of frames like the ones the "
                          "model will see (calibrating on a handful collapses accuracy)")


class Toolkit(Protocol):
    """What the builder needs from TensorRT (see :class:`rtdetect.inference.tensorrt.toolkit.TensorRTToolkit`)."""

    trt_version: str
    device_info: DeviceInfo

    def serialize(self, onnx_path: Path, recipe: PrecisionRecipe, input_name: str,
                  shapes: Sequence[tuple[int, ...]], timing_cache: Path) -> bytes: ...

    def can_deserialize(self, data: bytes) -> bool: ...


@dataclass(frozen=True)
class BuildRequest:
    """What to build. onnx_path: a float32 ONNX (or a float16 one for fp16); precision: fp32 | fp16 |
    int8; batch: max batch (dynamic-batch models only above 1); imgsz: (H, W); calibration: the frames
    to calibrate on, handed in by the caller (int8 only); calib_frames: how many of them."""

    onnx_path: Path
    precision: str = "fp16"
    batch: int = 1
    imgsz: tuple[int, int] = (640, 640)
    calibration: FrameSupply | None = None
    calib_frames: int = DEFAULT_CALIB_FRAMES


@dataclass(frozen=True)
class Resolved:
    paths: EnginePaths
    recipe: PrecisionRecipe
    info: OnnxInfo
    shapes: tuple[tuple[int, ...], ...]


class EngineBuilder:
    """Builds engines into ``cache_dir/engines`` (default :func:`rtdetect.inference.tensorrt.cache.cache_root`) with
    ``toolkit``; ``log`` receives one-line reports (rebuilds, builds, calibration progress)."""

    def __init__(self, toolkit: Toolkit, *, cache_dir: str | os.PathLike | None = None,
                 log: Callable[[str], None] = note) -> None:
        self.toolkit = toolkit
        self.folder = engines_dir(cache_dir)
        self.log = log

    def resolve(self, request: BuildRequest) -> Resolved:
        """The recipe, the key and the paths for ``request`` (no build, no TensorRT call)."""
        check_request(request)
        source = Path(request.onnx_path)
        recipe = precision_recipe(self.toolkit.trt_version, request.precision)
        info = inspect_onnx(source)
        shapes = profile_shapes(info, request.imgsz, request.batch)
        device = self.toolkit.device_info
        key = EngineKey(file_sha256(source), self.toolkit.trt_version, device.name, device.compute_capability,
                        request.precision, info.input_name, *shapes, calibration=self._calibration(request, recipe))
        return Resolved(engine_paths(self.folder, source.stem, key), recipe, info, shapes)

    def _calibration(self, request: BuildRequest, recipe: PrecisionRecipe) -> str:
        if not recipe.needs_calibration:
            return ""
        return calibration_fingerprint(request.calibration.identity(), request.calib_frames, request.imgsz, RECIPE)

    def ensure(self, request: BuildRequest, *, rebuild: bool = False, verify: bool = False) -> EnginePaths:
        """The engine for ``request``: from the cache when valid (``verify`` also deserialises it), else
        built now. ``rebuild`` discards any cached engine first."""
        resolved = self.resolve(request)
        reason = "rebuild requested" if rebuild else self._problem(resolved.paths, verify)
        if reason is None:
            return resolved.paths
        with build_lock(resolved.paths):
            if not rebuild and self._problem(resolved.paths, verify) is None:  # built meanwhile by another process
                return resolved.paths
            if resolved.paths.engine.exists() or resolved.paths.sidecar.exists():
                self.log(f"cached engine {resolved.paths.engine.name} is unusable ({reason}): rebuilding")
            discard(resolved.paths)
            return self._build(request, resolved)

    def _problem(self, paths: EnginePaths, verify: bool) -> str | None:
        reason = validate(paths)
        if reason is None and verify and not self.toolkit.can_deserialize(paths.engine.read_bytes()):
            reason = "TensorRT cannot deserialise it (built by another TensorRT or for another GPU, or corrupt)"
        return reason

    def _build(self, request: BuildRequest, resolved: Resolved) -> EnginePaths:
        onnx_path = self.model_for_recipe(request, resolved.recipe, resolved.info)
        self.log(f"building TensorRT engine {resolved.paths.engine.name}: {resolved.recipe.describe()}, "
                 f"input {resolved.info.input_name} {resolved.shapes[0]}..{resolved.shapes[2]} (this takes minutes)")
        device = self.toolkit.device_info
        start = time.perf_counter()
        data = self.toolkit.serialize(onnx_path, resolved.recipe, resolved.info.input_name, resolved.shapes,
                                      timing_cache_path(self.folder, self.toolkit.trt_version, device.name,
                                                        device.compute_capability))
        seconds = time.perf_counter() - start
        metadata = {**resolved.info.metadata, "rtdetect.precision": request.precision}
        extra = {"recipe": dataclasses.asdict(resolved.recipe), "built_from": str(onnx_path),
                 "source_onnx": str(Path(request.onnx_path).resolve()), "build_seconds": round(seconds, 3),
                 "device": dataclasses.asdict(device)}
        write_engine(resolved.paths, data, metadata, extra)
        self.log(f"engine built in {seconds:.1f} s: {resolved.paths.engine}")
        return replace(resolved.paths, built=True)

    def model_for_recipe(self, request: BuildRequest, recipe: PrecisionRecipe, info: OnnxInfo) -> Path:
        """The ONNX TensorRT parses for ``recipe``: the source, or a derived fp16 / Q/DQ file (cached)."""
        source = Path(request.onnx_path)
        if info.input_dtype == "float16":
            if request.precision != "fp16":
                raise ModelError(f"{source} is a float16 model: build it with --precision fp16, or give the "
                                 f"float32 ONNX for {request.precision}")
            return source
        if recipe.onnx_variant == ONNX_SOURCE:
            return source
        digest = file_sha256(source)[:16]
        if recipe.onnx_variant == ONNX_FP16:
            return self._derive(self.folder / "onnx" / f"{source.stem}-fp16-{digest}.onnx",
                                lambda target: write_fp16_variant(source, target))
        if recipe.onnx_variant == ONNX_QDQ_INT8:
            fingerprint = calibration_fingerprint(request.calibration.identity(), request.calib_frames, request.imgsz,
                                                  RECIPE)
            return self._derive(self.folder / "onnx" / f"{source.stem}-int8-{digest}-{fingerprint}.onnx",
                                lambda target: self._calibrate(request, target))
        raise ModelError(f"unknown ONNX variant {recipe.onnx_variant!r}")

    def _calibrate(self, request: BuildRequest, target: Path) -> Path:
        calibration = request.calibration
        self.log(f"calibrating INT8 on {request.calib_frames} frames from {calibration.name}")
        tensors = (calibration.prepare(image, request.imgsz, np.dtype(np.float32))
                   for image in calibration.frames(request.calib_frames))
        return write_int8_qdq(request.onnx_path, target, tensors, on_frame=progress_printer(request.calib_frames))

    @staticmethod
    def _derive(target: Path, make: Callable[[Path], Path]) -> Path:
        return build_once(target, make)  # checksummed, rebuilt when damaged (rtdetect.models.cache)


def check_request(request: BuildRequest) -> None:
    """ModelError for options that no TensorRT could build: unknown precision, batch < 1, int8 without
    calibration frames, a missing model file."""
    if request.precision not in PRECISIONS:
        raise ModelError(f"unknown precision {request.precision!r}: choose one of {', '.join(PRECISIONS)}")
    if request.batch < 1:
        raise ModelError(f"--batch must be >= 1, got {request.batch}")
    if request.precision == "int8" and request.calibration is None:
        raise ModelError(INT8_NEEDS_CALIBRATION)
    if request.calib_frames < 1:
        raise ModelError(f"--calib-frames must be >= 1, got {request.calib_frames}")
    if not Path(request.onnx_path).is_file():
        raise ModelError(f"model file not found: {request.onnx_path}")


def open_engine(builder: EngineBuilder, request: BuildRequest, load: Callable[[bytes], T]) -> tuple[T, EnginePaths]:
    """Ensure the engine and ``load`` its recipe bytes. When a *cached* engine fails to load (``load`` raises
    EngineLoadError: deserialisation returned None or raised), report it, rebuild once and load again."""
    paths = builder.ensure(request)
    try:
        return load(paths.engine.read_bytes()), paths
    except EngineLoadError as exc:
        if paths.built:
            raise
        builder.log(f"cached engine {paths.engine.name} cannot be loaded ({exc}): rebuilding")
    paths = builder.ensure(request, rebuild=True)
    return load(paths.engine.read_bytes()), paths


def build_engine(onnx_path: str | os.PathLike, *, precision: str = "fp16", batch: int = 1,
                 imgsz: tuple[int, int] = (640, 640), calibration: FrameSupply | None = None,
                 calib_frames: int = DEFAULT_CALIB_FRAMES, cache_dir: str | os.PathLike | None = None,
                 device: int = 0, workspace_gb: float | None = None, rebuild: bool = False,
                 log: Callable[[str], None] = note) -> EnginePaths:
    """Build (or find in the cache) the TensorRT engine of ``onnx_path``; returns its paths.

    A cached engine is also deserialised once to be sure it loads here. Raises ModelError subclasses:
    TensorRTUnavailable (no tensorrt/pycuda/GPU), EngineBuildError, or ModelError for bad options.
    """
    from .toolkit import DEFAULT_WORKSPACE_GB, TensorRTToolkit

    request = BuildRequest(Path(onnx_path), precision, int(batch), (int(imgsz[0]), int(imgsz[1])),
                           calibration, int(calib_frames))
    check_request(request)  # option errors first, before TensorRT is even imported
    with TensorRTToolkit(device, workspace_gb=workspace_gb or DEFAULT_WORKSPACE_GB, log=log) as toolkit:
        return EngineBuilder(toolkit, cache_dir=cache_dir, log=log).ensure(request, rebuild=rebuild, verify=True)
