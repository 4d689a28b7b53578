"""rtdetect.gpu without a GPU: imports lazily, says what is missing, finds its kernel sources; and, on a
GPU machine, keeps the caller's CUDA context stack balanced."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rtdetect.gpu import INSTALL_HINT, CudaRuntime, CudaUnavailableError, kernel_source, kernels_dir
from rtdetect.gpu.catalog import KERNELS, SOURCE_FILES, kernel_spec
from rtdetect.gpu.compile import compile_cubin
from rtdetect.gpu.runtime import as_address
from rtdetect.gpu.sources import candidate_dirs


def test_importing_rtdetect_gpu_does_not_import_pycuda():
    code = "import sys, rtdetect.gpu; assert 'pycuda' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=kernels_dir().parent)


def test_runtime_without_pycuda_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycuda", None)  # import pycuda now raises ImportError
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    with pytest.raises(CudaUnavailableError, match=r"pycuda is not installed: pip install 'rtdetect\[tensorrt-cu12\]'"):
        CudaRuntime()
    assert "tensorrt-cu12" in INSTALL_HINT and "tensorrt-cu13" in INSTALL_HINT and "doctor" in INSTALL_HINT


def test_compiling_without_pycuda_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.compiler", None)
    with pytest.raises(CudaUnavailableError, match="pycuda"):
        compile_cubin("extern \"C\" __global__ void k() {}", "sm_86", str(kernels_dir()))


def test_kernel_sources_are_found():
    assert (kernels_dir() / "common.cuh").is_file()
    for name in SOURCE_FILES:
        assert 'extern "C" __global__' in kernel_source(name)
    assert candidate_dirs()[0].name == "_kernels"  # an installed package's copy wins over the checkout
    with pytest.raises(FileNotFoundError, match="not in"):
        kernel_source("missing.cu")


def test_catalog_lookups():
    assert kernel_spec("nms_sort").source == "nms.cu"
    assert all(set(spec.arg_types) <= set("PiIf") for spec in KERNELS.values())
    with pytest.raises(KeyError, match="known"):
        kernel_spec("nms_sorted")


def test_device_addresses_are_checked():
    class Allocation:
        def __int__(self):
            return 4096

    assert as_address(Allocation(), "x") == 4096
    with pytest.raises(ValueError, match="non-null"):
        as_address(0, "x")
    with pytest.raises(ValueError, match="device address"):
        as_address("0x10", "x")


@pytest.mark.needs_cuda
def test_cuda_runtime_leaves_the_context_stack_as_it_found_it():
    import pycuda.driver as cuda

    cuda.init()
    before = cuda.Context.get_current()
    with CudaRuntime() as runtime:
        buffer = runtime.alloc(64)
        runtime.memset(int(buffer), 7, 64)
        host = np.zeros(64, np.uint8)
        runtime.download(host, int(buffer))
        runtime.synchronize()
        assert (host == 7).all()
        assert cuda.Context.get_current() == before
        runtime.free(buffer)
    assert cuda.Context.get_current() == before
