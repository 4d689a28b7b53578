"""CUDA graph capture through the CUDA driver API, called with ctypes.

pycuda has no graph API: its ``Stream`` offers ``synchronize``, ``is_done``, ``wait_for_event`` and
``handle`` only (checked in pycuda 2026.1's ``wrap_cudadrv.cpp``; graph support is the unmerged pull
request inducer/pycuda#343). So the capture is done on the *handle* of a pycuda stream with the driver's
own entry points, whose C signatures are those of ``cuda.h`` (CUDA 11.4 and newer):

* ``cuStreamBeginCapture_v2(CUstream, CUstreamCaptureMode)`` (``CU_STREAM_CAPTURE_MODE_THREAD_LOCAL`` = 1);
* ``cuStreamEndCapture(CUstream, CUgraph*)``;
* ``cuGraphInstantiateWithFlags(CUgraphExec*, CUgraph, unsigned long long)`` (what ``cuGraphInstantiate``
  maps to in CUDA 12 and 13); the graph may be destroyed once instantiated;
* ``cuGraphLaunch(CUgraphExec, CUstream)``, ``cuGraphExecDestroy`` (an in-flight graph is freed when it
  completes), ``cuGraphDestroy``; ``cuGetErrorString`` for messages.

The calls need the stream's context current on the calling thread (the GPU pipeline pushes it). Failures
raise :class:`CudaGraphError` (a RuntimeError) with the driver's message.
"""
from __future__ import annotations

import ctypes

from . import libcuda

CAPTURE_MODE_THREAD_LOCAL = 1


class CudaGraphError(RuntimeError):
    """A CUDA driver graph call failed (the message names the call and the driver's error)."""


class DriverGraphApi:
    """The six driver calls of a stream capture. ``library``: a loaded libcuda (default: load it).

    Handles (streams, graphs, executable graphs) are plain ints; pass ``pycuda_stream.handle``.
    Raises OSError when the driver library lacks an entry point (a driver older than CUDA 11.4).
    """

    def __init__(self, library=None) -> None:
        lib = library if library is not None else libcuda.load()
        handle, out = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
        self._begin = libcuda.entry(lib, "cuStreamBeginCapture_v2", handle, ctypes.c_int)
        self._end = libcuda.entry(lib, "cuStreamEndCapture", handle, out)
        self._instantiate = libcuda.entry(lib, "cuGraphInstantiateWithFlags", out, handle, ctypes.c_ulonglong)
        self._launch = libcuda.entry(lib, "cuGraphLaunch", handle, handle)
        self._destroy_exec = libcuda.entry(lib, "cuGraphExecDestroy", handle)
        self._destroy_graph = libcuda.entry(lib, "cuGraphDestroy", handle)
        self._error_string = libcuda.entry(lib, "cuGetErrorString", ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))

    def begin_capture(self, stream: int, mode: int = CAPTURE_MODE_THREAD_LOCAL) -> None:
        self._check("cuStreamBeginCapture", self._begin(ctypes.c_void_p(stream), mode))

    def end_capture(self, stream: int) -> int:
        """The captured graph (end the capture even when it was invalidated: then this raises)."""
        graph = ctypes.c_void_p()
        self._check("cuStreamEndCapture", self._end(ctypes.c_void_p(stream), ctypes.byref(graph)))
        return int(graph.value or 0)

    def instantiate(self, graph: int) -> int:
        graph_exec = ctypes.c_void_p()
        self._check("cuGraphInstantiate",
                    self._instantiate(ctypes.byref(graph_exec), ctypes.c_void_p(graph), 0))
        return int(graph_exec.value or 0)

    def launch(self, graph_exec: int, stream: int) -> None:
        self._check("cuGraphLaunch", self._launch(ctypes.c_void_p(graph_exec), ctypes.c_void_p(stream)))

    def destroy_exec(self, graph_exec: int) -> None:
        self._check("cuGraphExecDestroy", self._destroy_exec(ctypes.c_void_p(graph_exec)))

    def destroy_graph(self, graph: int) -> None:
        self._check("cuGraphDestroy", self._destroy_graph(ctypes.c_void_p(graph)))

    def _check(self, call: str, status: int) -> None:
        if status == 0:
            return
        text = ctypes.c_char_p()
        if self._error_string(status, ctypes.byref(text)) != 0 or not text.value:
            raise CudaGraphError(f"{call} failed: CUDA error {status}")
        raise CudaGraphError(f"{call} failed: {text.value.decode(errors='replace')} ({status})")
