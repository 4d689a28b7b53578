"""``DriverGraphApi`` (ctypes over libcuda) against a fake libcuda built here with g++.

When the CUDA toolkit's ``cuda.h`` is found, the fake's functions are compiled against its prototypes
(``cuStreamBeginCapture`` is renamed ``cuStreamBeginCapture_v2`` and ``cuGraphInstantiate``
``cuGraphInstantiateWithFlags`` by the header itself), so a drift between the ctypes declarations and the
real C signatures shows up here as a wrong exported name or wrong values. It proves nothing about a GPU.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rtdetect.gpu.cuda_graphs import CAPTURE_MODE_THREAD_LOCAL, CudaGraphError, DriverGraphApi

FAKE_LIBCUDA = r"""
#if defined(RT_HAVE_CUDA_H)
#include <cuda.h>
#else
typedef int CUresult;
typedef struct CUstream_st* CUstream;
typedef struct CUgraph_st* CUgraph;
typedef struct CUgraphExec_st* CUgraphExec;
typedef int CUstreamCaptureMode;
#define CUDA_SUCCESS 0
#define cuStreamBeginCapture cuStreamBeginCapture_v2
#define cuGraphInstantiate cuGraphInstantiateWithFlags
#endif
#include <cstdint>

static uintptr_t last[4];
static unsigned long long last_flags = 99;
static const uintptr_t BAD = 0xBAD;

extern "C" {
uintptr_t fake_last(int i) { return last[i]; }
unsigned long long fake_flags() { return last_flags; }

CUresult cuStreamBeginCapture(CUstream stream, CUstreamCaptureMode mode) {
    last[0] = (uintptr_t)stream; last[1] = (uintptr_t)mode;
    return (uintptr_t)stream == BAD ? (CUresult)900 : CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph) {
    last[0] = (uintptr_t)stream; *graph = (CUgraph)0x6000;
    return CUDA_SUCCESS;
}
CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
    last[2] = (uintptr_t)graph; last_flags = flags; *exec = (CUgraphExec)0x7000;
    return CUDA_SUCCESS;
}
CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
    last[2] = (uintptr_t)exec; last[0] = (uintptr_t)stream;
    return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(CUgraphExec exec) { last[3] = (uintptr_t)exec; return CUDA_SUCCESS; }
CUresult cuGraphDestroy(CUgraph graph) { last[3] = (uintptr_t)graph; return CUDA_SUCCESS; }
CUresult cuGetErrorString(CUresult error, const char** text) {
    *text = error == 900 ? "operation not permitted when stream is capturing" : 0;
    return *text ? CUDA_SUCCESS : (CUresult)1;
}
}
"""


def _cuda_include() -> Path | None:
    roots = [os.environ.get("CUDA_HOME"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        roots.append(str(Path(nvcc).resolve().parents[1]))
    for root in filter(None, roots):
        if (Path(root) / "include" / "cuda.h").is_file():
            return Path(root) / "include"
    return None


@pytest.fixture(scope="module")
def fake_libcuda(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.fail("g++ is needed to build the fake libcuda (apt-get install g++)", pytrace=False)
    folder = tmp_path_factory.mktemp("fake_libcuda")
    source, library = folder / "fake_libcuda.cpp", folder / "libfakecuda.so"
    source.write_text(FAKE_LIBCUDA)
    include = _cuda_include()
    flags = [f"-I{include}", "-DRT_HAVE_CUDA_H"] if include else []
    subprocess.run(["g++", "-shared", "-fPIC", "-Wall", "-Werror", *flags, str(source), "-o", str(library)],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.fake_last.restype = ctypes.c_size_t
    lib.fake_flags.restype = ctypes.c_ulonglong
    return lib


def test_capture_instantiate_launch_destroy_pass_the_handles(fake_libcuda):
    api = DriverGraphApi(fake_libcuda)
    api.begin_capture(0x1234)
    assert fake_libcuda.fake_last(0) == 0x1234 and fake_libcuda.fake_last(1) == CAPTURE_MODE_THREAD_LOCAL
    graph = api.end_capture(0x1234)
    graph_exec = api.instantiate(graph)
    assert (graph, graph_exec) == (0x6000, 0x7000) and fake_libcuda.fake_last(2) == 0x6000
    assert fake_libcuda.fake_flags() == 0
    api.launch(graph_exec, 0x4321)
    assert fake_libcuda.fake_last(2) == 0x7000 and fake_libcuda.fake_last(0) == 0x4321
    api.destroy_graph(graph)
    assert fake_libcuda.fake_last(3) == 0x6000
    api.destroy_exec(graph_exec)
    assert fake_libcuda.fake_last(3) == 0x7000


def test_driver_errors_carry_the_driver_message(fake_libcuda):
    with pytest.raises(CudaGraphError, match="cuStreamBeginCapture failed: operation not permitted"):
        DriverGraphApi(fake_libcuda).begin_capture(0xBAD)


def test_a_driver_without_graph_entry_points_is_an_os_error():
    libc = ctypes.CDLL(None)  # has none of the cu* symbols
    with pytest.raises(OSError, match="cuStreamBeginCapture_v2"):
        DriverGraphApi(libc)
