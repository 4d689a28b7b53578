"""The real runtime: one NVIDIA GPU through pycuda, on the device's primary context.

pycuda is imported when a ``CudaRuntime`` is created, never at import time, so ``import rtdetect.gpu`` works
on any machine; without pycuda or a GPU the constructor raises ``CudaUnavailableError`` saying what to
install. The runtime works on the device's *primary* context through
:class:`rtdetect.gpu.device.PrimaryContext` (the one owner of context push, pop and release), shared with
the TensorRT engine on the GPU pipeline. Kernel modules are loaded on first use (``compile.py``: the
prebuilt fatbins, else compiled with nvcc) and kept by this object, which the caller owns and closes
(``close`` or ``with``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import libcuda
from .catalog import kernel_spec
from .compile import kernel_image
from .device import PrimaryContext, new_stream
from .errors import CudaUnavailableError


def driver_cuda_version() -> tuple[int, int] | None:
    """(major, minor) of the newest CUDA the NVIDIA driver supports, or None when it cannot be asked."""
    try:
        return libcuda.driver_version()
    except OSError:
        return None


class CudaRuntime:
    """Kernels, memory and copies on GPU ``device`` (see ``runtime.KernelRuntime``).

    context: the device's :class:`rtdetect.gpu.device.PrimaryContext` to share (the GPU pipeline passes
    the TensorRT engine's); by default the runtime retains its own on ``device`` and releases it on close.
    stream: a ``pycuda.driver.Stream`` to use when a call passes none; by default the runtime makes one.
    block_threads / grid_blocks: launch geometry of the grid-stride kernels (grid_blocks defaults to
    8 blocks per multiprocessor).
    """

    def __init__(self, device: int = 0, *, context: PrimaryContext | None = None, stream: Any = None,
                 block_threads: int = 256, grid_blocks: int | None = None) -> None:
        if block_threads not in (64, 128, 256, 512, 1024):
            raise ValueError(f"block_threads must be a power of two from 64 to 1024, got {block_threads}")
        self._owns_context = context is None
        self._context = PrimaryContext(device) if context is None else context
        self._driver = driver = self._context.driver
        self._functions: dict[str, Any] = {}
        self._max_threads: dict[str, int] = {}
        self._modules: dict[str, Any] = {}
        major, minor = self._context.device.compute_capability()
        self.capability = (int(major), int(minor))
        self.arch = f"sm_{major}{minor}"
        self.driver = driver_cuda_version()
        self.block_threads = block_threads
        sms = self._context.device.get_attribute(driver.device_attribute.MULTIPROCESSOR_COUNT)
        self.grid_blocks = int(grid_blocks) if grid_blocks else 8 * int(sms)
        with self._context.active():
            self._stream = stream if stream is not None else new_stream(driver)

    def close(self) -> None:
        """Drop the kernel modules and the stream; release the primary context if this runtime retained
        it (free the stages' buffers first). Idempotent."""
        if self._stream is None:
            return
        if self._context.is_open:
            with self._context.active():
                self._functions.clear()
                self._modules.clear()
                self._stream = None
        self._stream = None
        if self._owns_context:
            self._context.close()

    def __enter__(self) -> "CudaRuntime":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- kernels ------------------------------------------------------------------------------------------
    def _function(self, name: str):
        function = self._functions.get(name)
        if function is None:
            spec = kernel_spec(name)
            module = self._modules.get(spec.source)
            if module is None:
                module = self._load(spec.source)
                self._modules[spec.source] = module
            function = module.get_function(name)
            function.prepare(spec.arg_types)
            # What this build of the kernel can launch with (registers per thread cap it below 1024).
            self._max_threads[name] = int(function.get_attribute(
                self._driver.function_attribute.MAX_THREADS_PER_BLOCK))
            self._functions[name] = function
        return function

    def _load(self, source: str):
        """The module of kernel source ``source``; a driver refusing the image (it should not: the choice
        followed the fatbins' manifest) is one CudaUnavailableError line, not a pycuda traceback."""
        try:
            return self._driver.module_from_buffer(kernel_image(source, self.capability, self.driver))
        except self._driver.Error as exc:
            driver = "unknown" if self.driver is None else f"{self.driver[0]}.{self.driver[1]}"
            raise CudaUnavailableError(f"the NVIDIA driver (CUDA {driver}) cannot load rtdetect's kernels of "
                                       f"{source} for {self.arch}: {str(exc).splitlines()[0]}") from None

    def prepare(self, kernels) -> None:
        with self._context.active():
            for name in kernels:
                self._function(name)

    def launch(self, kernel: str, grid: tuple[int, int], block: int, args: Sequence, stream: Any = None) -> None:
        with self._context.active():
            function = self._function(kernel)
            if int(block) > self._max_threads[kernel]:
                raise ValueError(f"kernel {kernel} launches with at most {self._max_threads[kernel]} threads per "
                                 f"block on {self.arch}, asked for {block}: lower block_threads")
            function.prepared_async_call((int(grid[0]), int(grid[1]), 1), (int(block), 1, 1),
                                         stream or self._stream, *args)

    # -- memory ---------------------------------------------------------------------------------------------
    def alloc(self, nbytes: int) -> Any:
        with self._context.active():
            return self._driver.mem_alloc(int(nbytes))

    def free(self, buffer: Any) -> None:
        with self._context.active():
            buffer.free()

    def memset(self, address: int, value: int, nbytes: int, stream: Any = None) -> None:
        with self._context.active():
            self._driver.memset_d8_async(int(address), int(value), int(nbytes), stream or self._stream)

    def upload(self, address: int, host: np.ndarray, stream: Any = None) -> None:
        with self._context.active():
            self._driver.memcpy_htod_async(int(address), np.ascontiguousarray(host), stream or self._stream)

    def download(self, host: np.ndarray, address: int, stream: Any = None) -> None:
        if not host.flags.c_contiguous:
            raise ValueError("download needs a C-contiguous host array")
        with self._context.active():
            self._driver.memcpy_dtoh_async(host, int(address), stream or self._stream)

    def synchronize(self, stream: Any = None) -> None:
        with self._context.active():
            (stream or self._stream).synchronize()

    def host_empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        with self._context.active():
            return self._driver.pagelocked_empty(shape, dtype)
