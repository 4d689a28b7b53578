"""CUDA graph capture of the fixed-shape part of a frame (preprocess, TensorRT, decode, NMS, masks).

One graph per key (upload slot and frame size: the kernels' arguments, the frame address and the letterbox,
are baked into the graph). Replaying it costs one launch instead of a dozen kernel launches plus
``execute_async_v3``. Capture uses pycuda's ``Stream.begin_capture(capture_mode)`` /
``Stream.end_capture() -> Graph`` / ``Graph.instantiate() -> GraphExec`` / ``GraphExec.launch(stream)``
(checked in pycuda's ``wrap_cudadrv.cpp`` and ``test/test_graph.py``).

Conditions under which capture is valid, all met by rtdetect's GPU pipeline:

* fixed shapes and fixed addresses: the engine runs at batch 1 and its I/O buffers never move; a graph is
  keyed by frame size and upload slot, so a new size or slot is captured anew;
* the work is queued once uncaptured first, so lazy work (kernel module loads, TensorRT's first-enqueue
  set-up after ``set_input_shape``) happens outside the capture, and nothing allocates or synchronises
  inside it;
* a non-default stream (pycuda ``Stream()``), capture mode THREAD_LOCAL so other threads' CUDA calls
  (capture, render) neither break nor join the capture; capture ends on the thread that began it;
* thresholds are baked in: ``GpuPipeline.configure`` drops the graphs.

TensorRT engines whose layers cannot be captured (data-dependent shapes, loops, some plugins) make
``execute_async_v3`` fail or the capture invalid: the failure is reported once and the pipeline keeps
running the same work eagerly.
"""
from __future__ import annotations

from typing import Callable, Hashable


class GraphCache:
    """``run(key, enqueue)``: replay the graph captured from ``enqueue()`` for ``key`` on ``stream``,
    capturing it on first use. ``enabled`` turns False (for good) after a failed capture."""

    def __init__(self, cuda, stream, log: Callable[[str], None], *, enabled: bool = True) -> None:
        self._cuda = cuda
        self._stream = stream
        self._log = log
        self._graphs: dict[Hashable, object] = {}
        self.enabled = enabled

    def run(self, key: Hashable, enqueue: Callable[[], None]) -> bool:
        """Queue the work for ``key``; True when it ran as a graph, False when it ran eagerly."""
        if not self.enabled:
            enqueue()
            return False
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._capture(enqueue)
            if graph is None:
                enqueue()
                return False
            self._graphs[key] = graph
        graph.launch(self._stream)
        return True

    def _capture(self, enqueue: Callable[[], None]):
        enqueue()  # warm-up outside the capture: module loads and TensorRT's lazy set-up happen here
        self._stream.synchronize()
        self._stream.begin_capture(self._cuda.capture_mode.THREAD_LOCAL)
        try:
            enqueue()
        except (RuntimeError, self._cuda.Error) as exc:
            self._abandon(f"the work could not be captured ({exc})")
            return None
        try:
            return self._stream.end_capture().instantiate()
        except self._cuda.Error as exc:
            self._disable(f"the captured graph is invalid ({exc})")
            return None

    def _abandon(self, reason: str) -> None:
        try:
            self._stream.end_capture()
        except self._cuda.Error:  # the capture was already invalidated: nothing to end
            pass
        self._disable(reason)

    def _disable(self, reason: str) -> None:
        self.enabled = False
        self._graphs.clear()
        self._log(f"CUDA graph capture disabled: {reason}; running the GPU stages without a graph")

    def drop(self, predicate: Callable[[Hashable], bool] | None = None) -> None:
        """Forget the graphs whose key matches ``predicate`` (all when None)."""
        for key in [k for k in self._graphs if predicate is None or predicate(k)]:
            del self._graphs[key]
