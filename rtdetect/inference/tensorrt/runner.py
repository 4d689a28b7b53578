"""A deserialised engine ready to run: named I/O tensors, buffers allocated once, one stream.

TensorRT 10/11 runtime API used (checked in the 10.13 and 11.4 bindings): ``Runtime.deserialize_cuda_engine``,
``ICudaEngine.num_io_tensors`` / ``get_tensor_name(i)`` / ``get_tensor_mode`` / ``get_tensor_dtype`` /
``get_tensor_shape`` / ``get_tensor_profile_shape(name, profile)``, ``create_execution_context``,
``IExecutionContext.set_input_shape`` / ``get_tensor_shape`` / ``set_tensor_address`` /
``execute_async_v3(stream_handle)``. pycuda (checked in its ``wrap_cudadrv.cpp``): ``Stream``, ``Stream.handle``,
``mem_alloc``, ``pagelocked_empty``, ``memcpy_htod_async`` / ``memcpy_dtoh_async(dest, src, stream)``.

Buffers are sized for the profile's largest shape and allocated once per engine; a smaller batch uses the
leading part of each buffer, so tensor addresses are set once and never change (a CUDA graph captured
over them stays valid). All work goes to one stream; ``infer`` synchronises once per call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...gpu.device import PrimaryContext, new_stream
from .deps import create_runtime, import_tensorrt
from .errors import EngineLoadError


@dataclass(frozen=True)
class TensorSpec:
    """One engine I/O tensor. shape: as built, -1 for dynamic dims; max_shape: the largest shape under
    optimisation profile 0 (for outputs: the shape TensorRT infers for the largest input)."""

    name: str
    is_input: bool
    dtype: np.dtype
    shape: tuple[int, ...]
    max_shape: tuple[int, ...]

    @property
    def max_bytes(self) -> int:
        return int(np.prod(self.max_shape)) * self.dtype.itemsize


class EngineRunner:
    """Deserialises ``plan`` on CUDA device ``device`` and owns its execution context, stream and buffers.

    ``context``: share an existing :class:`PrimaryContext` (the GPU pipeline does) instead of retaining one.
    Raises EngineLoadError when TensorRT cannot deserialise the plan (returns None or raises).
    """

    def __init__(self, plan: bytes, *, device: int = 0, context: PrimaryContext | None = None) -> None:
        self._trt = import_tensorrt()
        self._owns_context = context is None
        self.context = context or PrimaryContext(device)
        self.cuda = self.context.driver
        try:
            with self.context.active():
                self._load(plan)
        except BaseException:
            self.close()
            raise

    def _load(self, plan: bytes) -> None:
        trt, cuda = self._trt, self.cuda
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = create_runtime(trt, self._logger)
        try:
            engine = self._runtime.deserialize_cuda_engine(plan)
        except (RuntimeError, ValueError, TypeError) as exc:  # pybind11's translation of a C++ failure
            raise EngineLoadError(f"TensorRT failed to deserialise the engine: {exc}") from None
        if engine is None:
            raise EngineLoadError("TensorRT could not deserialise the engine "
                                  "(built by another TensorRT version or for another GPU, or corrupt)")
        self.engine = engine
        self.execution = engine.create_execution_context()
        self.stream = new_stream(cuda)
        self.inputs, self.outputs = self._read_specs()
        self.device = {s.name: cuda.mem_alloc(max(s.max_bytes, 1)) for s in self.inputs + self.outputs}
        self.host = {s.name: cuda.pagelocked_empty(s.max_shape, s.dtype) for s in self.inputs + self.outputs}
        for name, allocation in self.device.items():
            self.execution.set_tensor_address(name, int(allocation))
        self._batch: int | None = None
        self.set_batch(self.max_batch)

    def _read_specs(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        trt, engine = self._trt, self.engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(inputs) != 1:
            raise EngineLoadError(f"expected an engine with one image input, found inputs {inputs}")
        for name in inputs:  # the largest profile shape fixes every buffer size
            if not self.execution.set_input_shape(name, self._profile(name)[2]):
                raise EngineLoadError(f"TensorRT rejected the largest profile shape of input {name}")
        specs = [TensorSpec(n, n in inputs, self._numpy_dtype(n), tuple(engine.get_tensor_shape(n)),
                            tuple(self.execution.get_tensor_shape(n)))
                 for n in names]
        image = next(s for s in specs if s.is_input)
        if len(image.max_shape) != 4 or image.max_shape[1] != 3:
            raise EngineLoadError(f"engine input {image.name} is {image.max_shape}, not an image batch (B, 3, H, W)")
        unknown = [s.name for s in specs if min(s.max_shape, default=0) < 0]
        if unknown:
            raise EngineLoadError(f"engine tensors {unknown} have data-dependent shapes; rtdetect needs fixed outputs")
        return [s for s in specs if s.is_input], [s for s in specs if not s.is_input]

    def _profile(self, name: str) -> tuple[tuple[int, ...], ...]:
        """(min, opt, max) shapes of input ``name`` under profile 0; a static input is its own profile
        (no profile query: an engine built without a profile, e.g. by trtexec, need not have one)."""
        shape = tuple(int(d) for d in self.engine.get_tensor_shape(name))
        if -1 not in shape:
            return shape, shape, shape
        profile = self.engine.get_tensor_profile_shape(name, 0)
        if len(profile) != 3:
            raise EngineLoadError(f"engine input {name} is dynamic {shape} but has no optimisation profile")
        return tuple(tuple(int(d) for d in dims) for dims in profile)

    def _numpy_dtype(self, name: str) -> np.dtype:
        kind = self.engine.get_tensor_dtype(name)
        try:
            return np.dtype(self._trt.nptype(kind))
        except TypeError:  # bfloat16, fp8, int4: no NumPy type
            raise EngineLoadError(f"engine tensor {name} is {kind}, which rtdetect cannot read or write") from None

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def min_batch(self) -> int:
        return int(self._profile(self.input.name)[0][0])

    @property
    def max_batch(self) -> int:
        return int(self.input.max_shape[0])

    def set_batch(self, batch: int) -> None:
        """Select the input batch (within the profile); output shapes follow."""
        if batch == self._batch:
            return
        if not self.min_batch <= batch <= self.max_batch:
            raise ValueError(f"batch {batch} outside the engine's profile [{self.min_batch}, {self.max_batch}]")
        shape = (batch, *self.input.max_shape[1:])
        if not self.execution.set_input_shape(self.input.name, shape):
            raise ValueError(f"TensorRT rejected input shape {shape}")
        self._batch = batch
        self.output_shapes = {s.name: tuple(self.execution.get_tensor_shape(s.name)) for s in self.outputs}

    def enqueue(self) -> None:
        """``execute_async_v3`` on the runner's stream, reading and writing the device buffers."""
        if not self.execution.execute_async_v3(self.stream.handle):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT messages above)")

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) → outputs as float32 arrays (copies), host in / host out, one sync."""
        if tensor.ndim != 4 or tuple(tensor.shape[1:]) != tuple(self.input.max_shape[1:]):
            raise ValueError(f"input must be (B, {', '.join(map(str, self.input.max_shape[1:]))}), got {tensor.shape}")
        batch = int(tensor.shape[0])
        with self.context.active():
            self.set_batch(batch)
            staged = self.host[self.input.name][:batch]
            np.copyto(staged, tensor, casting="same_kind")
            self.cuda.memcpy_htod_async(self.device[self.input.name], staged, self.stream)
            self.enqueue()
            views = []
            for spec in self.outputs:
                shape = self.output_shapes[spec.name]
                view = self.host[spec.name].reshape(-1)[:int(np.prod(shape))].reshape(shape)
                self.cuda.memcpy_dtoh_async(view, self.device[spec.name], self.stream)
                views.append(view)
            self.stream.synchronize()
        return [np.array(v, dtype=np.float32) for v in views]

    def close(self) -> None:
        """Free buffers, execution context, engine and runtime (in that order, with the CUDA context
        current), then release the CUDA context if this runner retained it. Idempotent."""
        context, self.context = getattr(self, "context", None), None
        if context is None:
            return
        if context.is_open:
            with context.active():
                self._release()
        if self._owns_context:
            context.close()

    def _release(self) -> None:
        if getattr(self, "stream", None) is not None:
            self.stream.synchronize()  # no buffer is freed under work still queued on it
        for allocation in getattr(self, "device", {}).values():
            allocation.free()
        self.device, self.host = {}, {}
        self.execution = self.engine = self.stream = self._runtime = None

    def __enter__(self) -> "EngineRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
