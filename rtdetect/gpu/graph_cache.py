"""CUDA graph capture of the fixed-shape part of a frame (preprocess, TensorRT, decode, NMS, masks).

One graph per key (upload slot and frame size: the kernels' arguments, the frame address and the letterbox,
are baked into the graph). Replaying it costs one launch instead of a dozen kernel launches plus
``execute_async_v3``. pycuda exposes no graph API (no ``Stream.begin_capture``, no ``Graph``), so capture
goes through the CUDA driver on the pycuda stream's ``handle`` (:mod:`rtdetect.gpu.cuda_graphs`).

Conditions under which capture is valid, all met by rtdetect's GPU pipeline:

* fixed shapes and fixed addresses: the engine runs at batch 1 and its I/O buffers never move; a graph is
  keyed by frame size and upload slot, so a new size or slot is captured anew;
* the work is queued once uncaptured first, so lazy work (kernel module loads, TensorRT's first-enqueue
  set-up after ``set_input_shape``) happens outside the capture, and nothing allocates or synchronises
  inside it;
* a non-default stream (pycuda ``Stream()``), capture mode THREAD_LOCAL so other threads' CUDA calls
  (capture, render) neither break nor join the capture; capture ends on the thread that began it;
* thresholds are baked in: ``GpuProcessor.configure`` drops the graphs.

TensorRT engines whose layers cannot be captured (data-dependent shapes, loops, some plugins) make
``execute_async_v3`` fail or the capture invalid: the failure is reported once and the pipeline keeps
running the same work eagerly.
"""
from __future__ import annotations

from typing import Callable, Hashable

from .cuda_graphs import CudaGraphError, DriverGraphApi


class GraphCache:
    """``run(key, enqueue)``: replay the graph captured from ``enqueue()`` for ``key`` on ``stream`` (a pycuda
    stream), capturing it on first use. ``api``: makes the driver calls object (by default
    :class:`rtdetect.gpu.cuda_graphs.DriverGraphApi`), on first capture; an OSError from it (no libcuda,
    a driver without graphs) turns graphs off. ``errors``: the exception types a failed enqueue raises
    (add ``pycuda.driver.Error``). ``enabled`` turns False (for good) after a failed capture. Call ``run``
    and ``drop`` with the stream's context current.
    """

    def __init__(self, stream, log: Callable[[str], None], *, api: Callable[[], object] = DriverGraphApi,
                 errors: tuple = (RuntimeError,), enabled: bool = True) -> None:
        self._stream = stream
        self._log = log
        self._make_api = api
        self._api = None
        self._errors = tuple(errors) + (CudaGraphError,)
        self._graphs: dict[Hashable, int] = {}
        self.enabled = enabled

    def run(self, key: Hashable, enqueue: Callable[[], None]) -> bool:
        """Queue the work for ``key``; True when it ran as a graph, False when it ran eagerly."""
        if not self.enabled:
            enqueue()
            return False
        graph_exec = self._graphs.get(key)
        if graph_exec is None:
            graph_exec = self._capture(enqueue)
            if graph_exec is None:
                enqueue()
                return False
            self._graphs[key] = graph_exec
        self._api.launch(graph_exec, int(self._stream.handle))
        return True

    def _driver(self):
        if self._api is None:
            try:
                self._api = self._make_api()
            except OSError as exc:
                self._disable(f"CUDA graphs are unavailable ({exc})")
        return self._api

    def _capture(self, enqueue: Callable[[], None]) -> int | None:
        enqueue()  # warm-up outside the capture: module loads and TensorRT's lazy set-up happen here
        self._stream.synchronize()
        api = self._driver()
        if api is None:
            return None
        stream = int(self._stream.handle)
        try:
            api.begin_capture(stream)
        except CudaGraphError as exc:
            self._disable(f"the stream cannot be captured ({exc})")
            return None
        try:
            enqueue()
        except self._errors as exc:
            self._abandon(api, stream, f"the work could not be captured ({exc})")
            return None
        try:
            graph = api.end_capture(stream)
        except CudaGraphError as exc:
            self._disable(f"the capture was invalidated ({exc})")
            return None
        try:
            return api.instantiate(graph)
        except CudaGraphError as exc:
            self._disable(f"the captured graph cannot be instantiated ({exc})")
            return None
        finally:
            api.destroy_graph(graph)  # the executable graph does not need it

    def _abandon(self, api, stream: int, reason: str) -> None:
        try:
            graph = api.end_capture(stream)  # always end it: the stream must leave capture mode
        except CudaGraphError:  # the capture was invalidated: ending it is all there is to do
            graph = 0
        if graph:
            api.destroy_graph(graph)
        self._disable(reason)

    def _disable(self, reason: str) -> None:
        self.enabled = False
        self.drop()
        self._log(f"CUDA graph capture disabled: {reason}; running the GPU stages without a graph")

    def drop(self, predicate: Callable[[Hashable], bool] | None = None) -> None:
        """Destroy the graphs whose key matches ``predicate`` (all when None)."""
        for key in [k for k in self._graphs if predicate is None or predicate(k)]:
            self._api.destroy_exec(self._graphs.pop(key))
