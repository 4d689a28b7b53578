"""What the GPU stages need from a device, and the launch geometry they share.

``GpuPreprocess``, ``GpuDecode``, ``GpuNms`` and ``GpuMasks`` talk to a *runtime*: any object with the
methods of ``KernelRuntime`` below. ``rtdetect.gpu.cuda_runtime.CudaRuntime`` is the real one (pycuda, an
NVIDIA GPU); the tests also run the very same stage code on a CPU runtime that executes the same kernel
sources under an emulator (``tools/kernels_emulator.py``). Device memory is named by plain integer
addresses (``int(allocation)``), so pycuda ``DeviceAllocation`` objects, TensorRT binding addresses and
emulated buffers all work.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np


class KernelRuntime(Protocol):
    """Device memory, copies and kernel launches on one stream-ordered device.

    block_threads: threads per block for the 1-D grid-stride kernels (a power of two, 64 .. 1024).
    grid_blocks: how many blocks a grid-stride kernel is launched with at most.
    ``stream`` arguments are the runtime's stream objects; None means the runtime's own stream.
    """

    block_threads: int
    grid_blocks: int

    def alloc(self, nbytes: int) -> Any:
        """A device buffer of ``nbytes``; ``int(buffer)`` is its address. Freed with ``free``."""

    def free(self, buffer: Any) -> None:
        """Release a buffer from ``alloc``."""

    def prepare(self, kernels: Sequence[str]) -> None:
        """Load (compile if needed) these kernels now, so that no launch has to: stages call it when they
        are created (a CUDA graph capture must not load modules midway)."""

    def launch(self, kernel: str, grid: tuple[int, int], block: int, args: Sequence, stream: Any = None) -> None:
        """Launch ``kernel`` (a name in ``rtdetect.gpu.catalog``) on a (grid_x, grid_y) grid of 1-D blocks."""

    def memset(self, address: int, value: int, nbytes: int, stream: Any = None) -> None:
        """Set ``nbytes`` bytes at ``address`` to ``value``."""

    def upload(self, address: int, host: np.ndarray, stream: Any = None) -> None:
        """Copy a C-contiguous host array to ``address``."""

    def download(self, host: np.ndarray, address: int, stream: Any = None) -> None:
        """Copy ``host.nbytes`` bytes from ``address`` into a C-contiguous host array."""

    def synchronize(self, stream: Any = None) -> None:
        """Wait until all work queued on ``stream`` is done."""

    def host_empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A host array suited to asynchronous copies (page-locked on a GPU)."""


def grid_for(items: int, runtime: KernelRuntime) -> int:
    """Blocks for a grid-stride kernel over ``items`` items: enough to cover them, at most grid_blocks."""
    needed = -(-max(int(items), 1) // runtime.block_threads)
    return max(1, min(needed, runtime.grid_blocks))


class Stage:
    """Base of the GPU stages: ``with stage:`` closes (frees the stage's device buffers) on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class DeviceBuffers:
    """Named device buffers allocated together and released together (``close``)."""

    def __init__(self, runtime: KernelRuntime, sizes: dict[str, int]) -> None:
        self._runtime = runtime
        self._buffers: dict[str, Any] = {}
        try:
            for name, nbytes in sizes.items():
                self._buffers[name] = runtime.alloc(max(int(nbytes), 4))
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name: str) -> int:
        return int(self._buffers[name])

    def close(self) -> None:
        buffers, self._buffers = self._buffers, {}
        for buffer in buffers.values():
            self._runtime.free(buffer)


def as_address(value: Any, what: str) -> int:
    """A device address from an int or an object with ``__int__`` (pycuda DeviceAllocation); 0 is refused."""
    try:
        address = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a device address (int or DeviceAllocation), got {type(value).__name__}") from None
    if address <= 0:
        raise ValueError(f"{what} must be a non-null device address, got {address}")
    return address
