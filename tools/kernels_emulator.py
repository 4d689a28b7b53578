"""Run rtdetect's CUDA kernels on the CPU: build them with g++ under kernels/emulation and load via ctypes.

``build_library()`` compiles one shared library from the unchanged ``kernels/*.cu`` sources (plus any extra
sources, e.g. the emulator's own self-test kernels), with ``kernels/emulation/cuda_emu.h`` standing in for
CUDA and a generated table of the kernels in ``rtdetect.gpu.catalog``. The library is cached in
``$RTDETECT_EMU_CACHE/<hash>/`` (default: ``kernels-emu`` under rtdetect's cache root) keyed by the hash of
every source, the flags and the compiler version, so it is rebuilt only when something that matters
changed. The test session keeps it out of its temporary rtdetect cache this way (tests/conftest.py).

``EmulatedRuntime`` implements ``rtdetect.gpu.runtime.KernelRuntime`` on top of it: device memory is host
memory (with guard bytes around every buffer, checked after each launch, so an out-of-bounds write is
an error rather than silent corruption), launches are synchronous, streams are ignored. The GPU stage
classes (``GpuPreprocess`` ...) run on it unchanged.

Usage: ``python tools/kernels_emulator.py [--sanitize thread]`` builds the library and prints its path. The
ThreadSanitizer build finds races between a block's threads (a missing ``__syncthreads``); it needs
``LD_PRELOAD=$(g++ -print-file-name=libtsan.so)`` in the process that loads it
(tests/kernels/test_data_races.py does exactly that).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any, Sequence

import numpy as np

if __name__ == "__main__":  # run as a script from a checkout: make the rtdetect beside tools/ importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtdetect.config import cache_root  # noqa: E402
from rtdetect.gpu.catalog import KERNELS, SOURCE_FILES  # noqa: E402
from rtdetect.gpu.sources import kernels_dir  # noqa: E402

CXX = "g++"
CXXFLAGS = ("-O2", "-std=c++20", "-pthread", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
            "-Wall", "-Wextra", "-Werror")
GUARD_BYTES = 256
GUARD_VALUE = 0xA5
ALIGNMENT = 256
_TYPE_CODES = {"P": ctypes.c_void_p, "i": ctypes.c_int32, "I": ctypes.c_uint32, "f": ctypes.c_float}


def emulator_cache() -> Path:
    """``$RTDETECT_EMU_CACHE``, else ``cache_root()/kernels-emu``."""
    return Path(os.environ.get("RTDETECT_EMU_CACHE") or cache_root() / "kernels-emu")


def _compiler_version() -> str:
    result = subprocess.run([CXX, "--version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0]


def unity_source(extra_sources: Sequence[Path] = (), extra_kernels: Sequence[str] = (), *,
                 rtdetect_kernels: bool = True) -> str:
    """The generated translation unit: emulation header, kernel sources, launcher, kernel table."""
    kdir = kernels_dir()
    lines = ['#include "cuda_emu.h"']
    if rtdetect_kernels:
        lines += [f'#include "{kdir / name}"' for name in SOURCE_FILES]
    lines += [f'#include "{Path(p).resolve()}"' for p in extra_sources]
    lines.append('#include "emu_launch.h"')
    names = (list(KERNELS) if rtdetect_kernels else []) + list(extra_kernels)
    lines.append("EMU_KERNEL_TABLE(" + ", ".join(f"EMU_KERNEL({n})" for n in names) + ")")
    return "\n".join(lines) + "\n"


def compiler_flags(sanitize: str | None = None) -> tuple[str, ...]:
    """g++ flags; ``sanitize="thread"`` builds with ThreadSanitizer (load it with LD_PRELOAD=libtsan)."""
    if sanitize is None:
        return CXXFLAGS
    if sanitize != "thread":
        raise ValueError(f"sanitize must be None or 'thread', got {sanitize!r}")
    return tuple(f for f in CXXFLAGS if f != "-O2") + ("-O1", "-g", "-fsanitize=thread")


def tsan_runtime() -> Path | None:
    """The ThreadSanitizer runtime library g++ links against, or None when g++ has none."""
    result = subprocess.run([CXX, "-print-file-name=libtsan.so"], capture_output=True, text=True)
    path = Path(result.stdout.strip())
    return path.resolve() if result.returncode == 0 and path.is_absolute() and path.exists() else None


def _inputs_digest(unity: str, extra_sources: Sequence[Path], flags: Sequence[str]) -> str:
    kdir = kernels_dir()
    digest = hashlib.sha256()
    files = sorted(kdir.glob("*.cu")) + sorted(kdir.glob("*.cuh")) + sorted((kdir / "emulation").glob("*.h"))
    for path in files + [Path(p) for p in extra_sources]:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    digest.update(unity.encode())
    digest.update(" ".join(flags).encode())
    digest.update(_compiler_version().encode())
    return digest.hexdigest()[:20]


def build_library(extra_sources: Sequence[Path] = (), extra_kernels: Sequence[str] = (), *,
                  rtdetect_kernels: bool = True, sanitize: str | None = None, cache_dir: Path | None = None) -> Path:
    """Build (or find in the cache) the emulator library of rtdetect's kernels (unless ``rtdetect_kernels``
    is False) plus ``extra_kernels`` defined in ``extra_sources``; returns its path. Raises RuntimeError
    with g++'s output when the kernels do not compile."""
    flags = compiler_flags(sanitize)
    unity = unity_source(extra_sources, extra_kernels, rtdetect_kernels=rtdetect_kernels)
    target_dir = (cache_dir or emulator_cache()) / _inputs_digest(unity, extra_sources, flags)
    library = target_dir / "libkernels_emu.so"
    if library.is_file():
        return library
    target_dir.mkdir(parents=True, exist_ok=True)
    kdir = kernels_dir()
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        unity_path = Path(tmp) / "kernels_emu.cpp"
        unity_path.write_text(unity)
        built = Path(tmp) / library.name
        command = [CXX, *flags, f"-I{kdir}", f"-I{kdir / 'emulation'}", str(unity_path), "-o", str(built)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"emulator build failed ({' '.join(command)}):\n{result.stderr}")
        os.replace(built, library)  # atomic: a concurrent build cannot leave half a library behind
    return library


class KernelLibrary:
    """The ctypes view of a built emulator library."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        lib = ctypes.CDLL(str(self.path))
        lib.emu_launch.restype = ctypes.c_int
        lib.emu_launch.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                                   ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t), ctypes.c_int,
                                   ctypes.c_char_p, ctypes.c_size_t]
        lib.emu_kernel_count.restype = ctypes.c_int
        lib.emu_kernel_name.restype = ctypes.c_char_p
        lib.emu_kernel_name.argtypes = [ctypes.c_int]
        lib.emu_kernel_signature.restype = ctypes.c_char_p
        lib.emu_kernel_signature.argtypes = [ctypes.c_int]
        lib.emu_last_sync_phases.restype = ctypes.c_ulonglong
        self._lib = lib

    def last_sync_phases(self) -> int:
        """How many ``__syncthreads`` phases the last launch went through (all its blocks together)."""
        return int(self._lib.emu_last_sync_phases())

    def signatures(self) -> dict[str, str]:
        """Kernel name -> parameter type codes, as compiled."""
        lib = self._lib
        return {lib.emu_kernel_name(i).decode(): lib.emu_kernel_signature(i).decode()
                for i in range(lib.emu_kernel_count())}

    def launch(self, name: str, arg_types: str, grid: Sequence[int], block: Sequence[int], args: Sequence) -> None:
        """Run one kernel to completion; raises RuntimeError with the emulator's message on failure."""
        if len(args) != len(arg_types):
            raise ValueError(f"{name} takes {len(arg_types)} arguments, got {len(args)}")
        values = [_TYPE_CODES[code](_plain(value, code)) for code, value in zip(arg_types, args)]
        params = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p)
                                                           for v in values])
        sizes = (ctypes.c_size_t * max(len(values), 1))(*[ctypes.sizeof(v) for v in values])
        grid3 = (ctypes.c_uint * 3)(*_dims(grid))
        block3 = (ctypes.c_uint * 3)(*_dims(block))
        error = ctypes.create_string_buffer(512)
        status = self._lib.emu_launch(name.encode(), grid3, block3, params, sizes, len(values), error, len(error))
        if status != 0:
            raise RuntimeError(f"emulated launch failed: {error.value.decode()}")


def _dims(dims: Sequence[int]) -> list[int]:
    values = [int(d) for d in dims] + [1] * (3 - len(dims))
    return values[:3]


def _plain(value: Any, code: str):
    if code == "P":
        return int(value) or None
    if code == "f":
        return float(value)
    return int(value)


class EmulatedBuffer:
    """Host memory standing in for one device allocation, with guard bytes on both sides."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        raw = np.empty(self.nbytes + 2 * GUARD_BYTES + ALIGNMENT, dtype=np.uint8)
        start = (-(raw.ctypes.data + GUARD_BYTES)) % ALIGNMENT
        self._raw = raw
        self._before = raw[start:start + GUARD_BYTES]
        self.data = raw[start + GUARD_BYTES:start + GUARD_BYTES + self.nbytes]
        self._after = raw[start + GUARD_BYTES + self.nbytes:start + 2 * GUARD_BYTES + self.nbytes]
        self._before.fill(GUARD_VALUE)
        self._after.fill(GUARD_VALUE)
        # Device memory is uninitialised: make reads of never-written bytes visible as garbage, not zeros.
        self.data.fill(0xCD)

    def __int__(self) -> int:
        return int(self.data.ctypes.data) if self.nbytes else int(self._after.ctypes.data)

    def guards_intact(self) -> bool:
        return bool((self._before == GUARD_VALUE).all() and (self._after == GUARD_VALUE).all())


class EmulatedRuntime:
    """``KernelRuntime`` on the CPU emulator (see the module docstring).

    block_threads / grid_blocks: launch geometry for grid-stride kernels. Small values keep the emulator
    fast (every CUDA thread is an OS thread); the kernels are correct for any geometry.
    """

    def __init__(self, library: KernelLibrary, *, block_threads: int = 64, grid_blocks: int = 3) -> None:
        self.library = library
        self.block_threads = int(block_threads)
        self.grid_blocks = int(grid_blocks)
        self._live: "weakref.WeakSet[EmulatedBuffer]" = weakref.WeakSet()
        self.launch_count = 0  # kernels launched so far (tests check that empty inputs launch nothing)
        self.sync_phases: dict[str, int] = {}  # kernel -> __syncthreads phases of its last launch
        self.grids: dict[str, tuple[int, int]] = {}  # kernel -> grid of its last launch

    def alloc(self, nbytes: int) -> EmulatedBuffer:
        buffer = EmulatedBuffer(nbytes)
        self._live.add(buffer)
        return buffer

    def free(self, buffer: EmulatedBuffer) -> None:
        self._live.discard(buffer)

    def allocated_bytes(self) -> int:
        """Bytes of device memory allocated and not yet freed (tests compare what stages hold)."""
        return sum(buffer.nbytes for buffer in list(self._live))

    def prepare(self, kernels: Sequence[str]) -> None:
        compiled = self.library.signatures()
        missing = [name for name in kernels if name not in compiled]
        if missing:
            raise KeyError(f"kernels {missing} are not in {self.library.path}")

    def launch(self, kernel: str, grid: tuple[int, int], block: int, args: Sequence, stream: Any = None) -> None:
        spec = KERNELS.get(kernel)
        arg_types = spec.arg_types if spec is not None else self._extra_signature(kernel)
        self.library.launch(kernel, arg_types, grid, (block,), args)
        self.launch_count += 1
        self.sync_phases[kernel] = self.library.last_sync_phases()
        self.grids[kernel] = (int(grid[0]), int(grid[1]))
        broken = [b for b in list(self._live) if not b.guards_intact()]
        if broken:
            raise RuntimeError(f"{kernel} wrote outside a buffer of {broken[0].nbytes} bytes (guard bytes changed)")

    def _extra_signature(self, kernel: str) -> str:
        signatures = self.library.signatures()
        if kernel not in signatures:
            raise KeyError(f"no kernel named {kernel!r} in {self.library.path}")
        return signatures[kernel]

    def memset(self, address: int, value: int, nbytes: int, stream: Any = None) -> None:
        if nbytes:
            ctypes.memset(int(address), int(value), int(nbytes))

    def upload(self, address: int, host: np.ndarray, stream: Any = None) -> None:
        host = np.ascontiguousarray(host)
        if host.nbytes:
            ctypes.memmove(int(address), host.ctypes.data, host.nbytes)

    def download(self, host: np.ndarray, address: int, stream: Any = None) -> None:
        if not host.flags.c_contiguous:
            raise ValueError("download needs a C-contiguous host array")
        if host.nbytes:
            ctypes.memmove(host.ctypes.data, int(address), host.nbytes)

    def synchronize(self, stream: Any = None) -> None:
        return None

    def host_empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        return np.empty(shape, dtype)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the CPU emulator library of rtdetect's CUDA kernels.")
    parser.add_argument("--sanitize", choices=["thread"], help="build with ThreadSanitizer")
    args = parser.parse_args(argv)
    print(build_library(sanitize=args.sanitize))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
