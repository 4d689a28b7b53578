"""Fixtures of the kernel tests: the CPU emulator library and the runtimes the stages run on.

``runtime`` runs a test on the CPU emulator and, on a machine with a GPU, again on ``CudaRuntime``
(marked ``needs_cuda``: skipped here, failing under RTDETECT_REQUIRE_CUDA=1 when no GPU is found), so
every parity test doubles as the GPU acceptance test. ``wide_runtime`` is the emulator with the GPU's
launch geometry (256 threads per block, more blocks), for the tests that check geometry independence.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kernels_emulator import EmulatedRuntime, KernelLibrary, build_library

SELFTEST_SOURCE = Path(__file__).with_name("emu_selftest.cu")
SELFTEST_KERNELS = ("selftest_half", "selftest_block_reverse", "selftest_atomic_count",
                    "selftest_divergent_barrier", "selftest_scan", "selftest_out_of_bounds")


def _require_gxx() -> None:
    if shutil.which("g++") is None:
        pytest.fail("g++ is needed to run the CUDA kernels on the CPU (apt-get install g++)", pytrace=False)


@pytest.fixture(scope="session")
def emulator_library() -> KernelLibrary:
    """rtdetect's kernels built with g++ under the emulator (cached across runs, shared with tests/trt)."""
    _require_gxx()
    return KernelLibrary(build_library())


@pytest.fixture(scope="session")
def selftest_runtime() -> EmulatedRuntime:
    """The emulator's own test kernels (tests/kernels/emu_selftest.cu) alone."""
    _require_gxx()
    library = KernelLibrary(build_library([SELFTEST_SOURCE], SELFTEST_KERNELS, rtdetect_kernels=False))
    return EmulatedRuntime(library, block_threads=64, grid_blocks=3)


@pytest.fixture(scope="session")
def emulated_runtime(emulator_library) -> EmulatedRuntime:
    return EmulatedRuntime(emulator_library, block_threads=64, grid_blocks=3)


@pytest.fixture(scope="session")
def wide_runtime(emulator_library) -> EmulatedRuntime:
    return EmulatedRuntime(emulator_library, block_threads=256, grid_blocks=5)


@pytest.fixture(scope="session", params=["emulated", pytest.param("cuda", marks=pytest.mark.needs_cuda)])
def runtime(request):
    """The emulator, then (on a GPU machine) the real GPU."""
    if request.param == "emulated":
        yield request.getfixturevalue("emulated_runtime")
        return
    from rtdetect.gpu import CudaRuntime

    with CudaRuntime() as gpu:
        yield gpu
