"""The real runtime: one NVIDIA GPU through pycuda, on the device's primary context.

pycuda is imported when a ``CudaRuntime`` is created, never at import time, so ``import rtdetect.gpu`` works
on any machine; without pycuda or a GPU the constructor raises ``CudaUnavailableError`` saying what to
install. The runtime retains the device's *primary* context (the one the CUDA runtime, PyTorch and TensorRT
use, so no second context fights them) and pushes it around every call, popping it afterwards: the calling
thread's context stack is left as it was found. Kernel modules are compiled on first use (``compile.py``)
and kept by this object, which the caller owns and closes (``close`` or ``with``).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from .catalog import kernel_spec
from .compile import compile_cubin
from .errors import CudaUnavailableError, INSTALL_HINT
from .sources import kernel_source, kernels_dir


def _import_driver():
    try:
        import pycuda.driver as driver
    except ImportError as exc:
        raise CudaUnavailableError(f"{INSTALL_HINT} (pycuda is not importable: {exc})") from exc
    return driver


class CudaRuntime:
    """Kernels, memory and copies on GPU ``device`` (see ``runtime.KernelRuntime``).

    stream: a ``pycuda.driver.Stream`` to use when a call passes none; by default the runtime makes one.
    block_threads / grid_blocks: launch geometry of the grid-stride kernels (grid_blocks defaults to
    8 blocks per multiprocessor).
    """

    def __init__(self, device: int = 0, *, stream: Any = None, block_threads: int = 256,
                 grid_blocks: int | None = None) -> None:
        if block_threads not in (64, 128, 256, 512, 1024):
            raise ValueError(f"block_threads must be a power of two from 64 to 1024, got {block_threads}")
        driver = _import_driver()
        try:
            driver.init()
            count = driver.Device.count()
        except driver.Error as exc:
            raise CudaUnavailableError(f"{INSTALL_HINT} (the CUDA driver failed: {exc})") from exc
        if not 0 <= device < count:
            raise CudaUnavailableError(f"CUDA device {device} does not exist ({count} device(s) found)")
        self._driver = driver
        self._device = driver.Device(device)
        self._context = self._device.retain_primary_context()
        self._functions: dict[str, Any] = {}
        self._max_threads: dict[str, int] = {}
        self._modules: dict[str, Any] = {}
        major, minor = self._device.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.block_threads = block_threads
        sms = self._device.get_attribute(driver.device_attribute.MULTIPROCESSOR_COUNT)
        self.grid_blocks = int(grid_blocks) if grid_blocks else 8 * int(sms)
        with self.activated():
            self._stream = stream if stream is not None else driver.Stream()

    # -- context ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """Make the primary context current for the block, then restore the thread's previous one."""
        if self._context is None:
            raise RuntimeError("this CudaRuntime is closed")
        self._context.push()
        try:
            yield
        finally:
            self._driver.Context.pop()

    def close(self) -> None:
        """Drop the kernel modules and release the primary context (free the stages' buffers first)."""
        if self._context is None:
            return
        with self.activated():
            self._functions.clear()
            self._modules.clear()
            self._stream = None
        context, self._context = self._context, None
        context.detach()

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
                cubin = compile_cubin(kernel_source(spec.source), self.arch, str(kernels_dir()))
                module = self._driver.module_from_buffer(cubin)
                self._modules[spec.source] = module
            function = module.get_function(name)
            function.prepare(spec.arg_types)
            # What this build of the kernel can launch with (registers per thread cap it below 1024).
            self._max_threads[name] = int(function.get_attribute(
                self._driver.function_attribute.MAX_THREADS_PER_BLOCK))
            self._functions[name] = function
        return function

    def prepare(self, kernels) -> None:
        with self.activated():
            for name in kernels:
                self._function(name)

    def launch(self, kernel: str, grid: tuple[int, int], block: int, args: Sequence, stream: Any = None) -> None:
        with self.activated():
            function = self._function(kernel)
            if int(block) > self._max_threads[kernel]:
                raise ValueError(f"kernel {kernel} launches with at most {self._max_threads[kernel]} threads per "
                                 f"block on {self.arch}, asked for {block}: lower block_threads")
            function.prepared_async_call((int(grid[0]), int(grid[1]), 1), (int(block), 1, 1),
                                         stream or self._stream, *args)

    # -- memory ---------------------------------------------------------------------------------------------
    def alloc(self, nbytes: int) -> Any:
        with self.activated():
            return self._driver.mem_alloc(int(nbytes))

    def free(self, buffer: Any) -> None:
        with self.activated():
            buffer.free()

    def memset(self, address: int, value: int, nbytes: int, stream: Any = None) -> None:
        with self.activated():
            self._driver.memset_d8_async(int(address), int(value), int(nbytes), stream or self._stream)

    def upload(self, address: int, host: np.ndarray, stream: Any = None) -> None:
        with self.activated():
            self._driver.memcpy_htod_async(int(address), np.ascontiguousarray(host), stream or self._stream)

    def download(self, host: np.ndarray, address: int, stream: Any = None) -> None:
        if not host.flags.c_contiguous:
            raise ValueError("download needs a C-contiguous host array")
        with self.activated():
            self._driver.memcpy_dtoh_async(host, int(address), stream or self._stream)

    def synchronize(self, stream: Any = None) -> None:
        with self.activated():
            (stream or self._stream).synchronize()

    def host_empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        with self.activated():
            return self._driver.pagelocked_empty(shape, dtype)
