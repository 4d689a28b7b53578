"""A stand-in for the parts of pycuda that ``CudaRuntime`` uses, executing kernels on the CPU emulator.

It lets the CPU tests run ``rtdetect.gpu.cuda_runtime`` line by line (context push/pop, compile and module
loading, prepared launches with pycuda's argument codes, memory and copies) with the real kernels behind
it. It says nothing about pycuda or a GPU themselves: the ``needs_cuda`` tests do.
"""
from __future__ import annotations

import ctypes
import types

import numpy as np

from kernels_emulator import EmulatedBuffer


class FakeError(Exception):
    pass


class FakeCompileError(FakeError):
    """pycuda.driver.CompileError(msg, command_line, stdout=None, stderr=None), raised by pycuda.compiler."""

    def __init__(self, msg, command_line, stdout=None, stderr=None):
        super().__init__(msg)
        self.msg, self.command_line, self.stdout, self.stderr = msg, command_line, stdout, stderr


class FakeStream:
    def __init__(self):
        self.synchronized = 0

    def synchronize(self):
        self.synchronized += 1


class FakeFunction:
    def __init__(self, driver, library, name):
        self._driver, self._library, self.name = driver, library, name
        self.arg_types = None

    def prepare(self, arg_types):
        self.arg_types = arg_types
        return self

    def get_attribute(self, attribute):
        if attribute != "MAX_THREADS_PER_BLOCK":
            raise FakeError(f"unknown function attribute {attribute!r}")
        return self._driver.max_threads_per_block

    def prepared_async_call(self, grid, block, stream, *args, shared_size=0):
        self._driver.require_context()
        if self.arg_types is None or not isinstance(stream, FakeStream):
            raise FakeError("launch of an unprepared function or without a stream")
        # pycuda takes a block tuple (a non-tuple is the deprecated pre-2011 form that shifts the arguments)
        if not isinstance(block, tuple) or len(block) != 3 or not isinstance(grid, tuple) or not 1 <= len(grid) <= 3:
            raise FakeError(f"grid {grid!r} / block {block!r} must be tuples (block of 3)")
        if block[0] * block[1] * block[2] > self._driver.max_threads_per_block:
            raise FakeError("cuLaunchKernel failed: too many resources requested for launch")
        self._library.launch(self.name, self.arg_types, grid, block, args)
        self._driver.launches.append((self.name, tuple(grid), tuple(block)))


class FakeModule:
    def __init__(self, driver, library, cubin):
        self._driver, self._library, self.cubin = driver, library, cubin

    def get_function(self, name):
        self._driver.require_context()
        return FakeFunction(self._driver, self._library, name)


class FakeContext:
    def __init__(self, driver):
        self._driver = driver
        self.detached = False

    def push(self):
        self._driver.depth += 1

    def detach(self):
        self.detached = True


class FakeDevice:
    def __init__(self, driver, index):
        self._driver, self.index = driver, index

    @staticmethod
    def count():
        return 1

    def retain_primary_context(self):
        return self._driver.context

    def compute_capability(self):
        return self._driver.capability

    def get_attribute(self, attribute):
        return 4


def make_fake_pycuda(library):
    """``(pycuda, pycuda.driver, pycuda.compiler)`` fake modules running kernels from ``library``."""
    driver = types.ModuleType("pycuda.driver")
    driver.Error = FakeError
    driver.CompileError = FakeCompileError
    driver.capability = (8, 6)
    driver.nvcc_archs = {"sm_75", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90"}  # what nvcc 13 accepts of ours
    driver.depth = 0
    driver.launches = []
    driver.compiles = []
    driver.context = FakeContext(driver)
    driver.device_attribute = types.SimpleNamespace(MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT")
    driver.function_attribute = types.SimpleNamespace(MAX_THREADS_PER_BLOCK="MAX_THREADS_PER_BLOCK")
    driver.max_threads_per_block = 1024

    def require_context():
        if driver.depth < 1:
            raise FakeError("no current context")

    def pop():
        require_context()
        driver.depth -= 1

    def memmove(destination, source, nbytes):
        require_context()
        if nbytes:
            ctypes.memmove(destination, source, nbytes)

    driver.require_context = require_context
    driver.init = lambda: None
    driver.Device = lambda index: FakeDevice(driver, index)
    driver.Device.count = FakeDevice.count
    driver.Context = types.SimpleNamespace(pop=pop)
    driver.Stream = FakeStream
    driver.module_from_buffer = lambda cubin: FakeModule(driver, library, cubin)
    driver.mem_alloc = lambda nbytes: (require_context(), _Allocation(nbytes))[1]
    driver.memset_d8_async = lambda ptr, value, nbytes, stream: (require_context(), ctypes.memset(ptr, value, nbytes))
    driver.memcpy_htod_async = lambda ptr, host, stream: memmove(ptr, host.ctypes.data, host.nbytes)
    driver.memcpy_dtoh_async = lambda host, ptr, stream: memmove(host.ctypes.data, ptr, host.nbytes)
    driver.pagelocked_empty = lambda shape, dtype: (require_context(), np.empty(shape, dtype))[1]

    compiler = types.ModuleType("pycuda.compiler")

    def compile(source, options=None, no_extern_c=False, arch=None, include_dirs=()):  # noqa: A001
        driver.compiles.append({"options": list(options), "no_extern_c": no_extern_c, "arch": arch,
                                "include_dirs": list(include_dirs)})
        if arch not in driver.nvcc_archs:  # nvcc's own words for an architecture it dropped
            raise FakeCompileError("nvcc compilation of /tmp/kernel.cu failed", ["nvcc", f"-arch={arch}"],
                                   stdout="", stderr=f"nvcc fatal   : Unsupported gpu architecture "
                                                     f"'compute_{arch[3:]}'\n")
        return b"fake cubin of " + source[:40].encode()

    compiler.compile = compile
    package = types.ModuleType("pycuda")
    package.driver, package.compiler = driver, compiler
    return package, driver, compiler


class _Allocation(EmulatedBuffer):
    def free(self):
        self.freed = True
