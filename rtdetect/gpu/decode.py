"""GPU decode: raw model output in device memory -> a candidate list in network input pixels.

Kernels in kernels/decode.cu, one per layout (``v5``, ``v8``, ``e2e``) and input dtype (float32/float16).
They apply the CPU decoders' rules (``rtdetect.decode``: strict ``score > conf``, lowest class id on ties)
and leave the boxes in input pixels, unclipped, as the CPU decoders do: NMS compares them there and maps the
kept ones to frame pixels (``Letterbox.to_original``), so both paths keep the same boxes at the borders. Passing candidates are compacted with an atomic
counter: slot order is arbitrary and each slot records its model candidate index (``source``). The list
holds every row of the output by default (``capacity`` = N), so which candidates survive never depends on
the atomics' order; a smaller ``capacity`` chosen on purpose stores the first ones served and counts the
rest (``total``, ``overflow``), never silently.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..types import Letterbox
from .runtime import DeviceBuffers, KernelRuntime, Stage, as_address, grid_for

LAYOUTS = ("v5", "v8", "e2e")


@dataclass(frozen=True)
class DeviceCandidates:
    """Device addresses of a candidate list (what ``GpuDecode.run`` fills and ``GpuNms.run`` reads).

    boxes (capacity, 4) float32 xyxy input pixels; scores (capacity,) float32; class_ids (capacity,) int32;
    source (capacity,) int32 model candidate index; count: one uint32, the number of candidates that
    passed (may exceed capacity: min(count, capacity) slots are valid). source_bits: bits needed by the
    largest source index (the NMS tie-break key).
    Mask coefficients are not copied per candidate: coefficient m of model candidate s is the element
    ``s * coef_row + m * coef_step`` of the array at ``coefs`` (float16 when ``coefs_half``, else float32),
    normally the model output itself; the NMS gather copies those of the kept candidates.
    letterbox: how the boxes map to frame pixels (the NMS gather does it, after NMS); None: they are
    already in the pixels wanted and are not mapped or clipped.
    """

    boxes: int
    scores: int
    class_ids: int
    source: int
    coefs: int
    count: int
    capacity: int
    num_masks: int
    source_bits: int
    coef_row: int = 0
    coef_step: int = 1
    coefs_half: bool = False
    letterbox: Letterbox | None = None


@dataclass(frozen=True)
class HostCandidates:
    """A downloaded candidate list in slot order (xyxy in input pixels); ``total`` passed, ``overflow`` = total - stored.
    mask_coefs: (stored, nm) float32 looked up by ``source`` in the host model output (``run_host``), or
    None when nm == 0 or the output is not on the host."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    source: np.ndarray
    mask_coefs: np.ndarray | None
    total: int

    @property
    def overflow(self) -> int:
        return max(0, self.total - len(self.scores))

    def sorted_by_source(self) -> "HostCandidates":
        """The same candidates ordered by model candidate index (the CPU decoders' order)."""
        order = np.argsort(self.source, kind="stable")
        coefs = None if self.mask_coefs is None else self.mask_coefs[order]
        return HostCandidates(self.xyxy[order], self.scores[order], self.class_ids[order], self.source[order],
                              coefs, self.total)


class GpuDecode(Stage):
    """Decode one output layout into a candidate list of at most ``capacity`` entries.

    layout: ``v5`` (1, N, 5 + nc + nm), ``v8`` (1, 4 + nc + nm, N) or ``e2e`` (1, N, 6 + nm);
    num_candidates: N; dtype: float32 or float16 of the model output; capacity: candidates stored, N when
    None (a smaller list drops candidates in atomic order, counted in ``total``).
    """

    def __init__(self, runtime: KernelRuntime, *, layout: str, num_classes: int, num_candidates: int,
                 num_masks: int = 0, dtype=np.float32, capacity: int | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if num_classes < 1 or num_masks < 0 or num_candidates < 1:
            raise ValueError(f"need num_classes >= 1, num_masks >= 0, num_candidates >= 1; got "
                             f"{num_classes}, {num_masks}, {num_candidates}")
        capacity = num_candidates if capacity is None else capacity
        if not 1 <= capacity <= 2**31 - 1 or num_candidates > 2**31 - 1:
            raise ValueError(f"capacity must be in [1, 2^31), got {capacity}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
            raise ValueError(f"model output dtype must be float32 or float16, got {self.dtype}")
        self.layout, self.num_classes, self.num_masks = layout, int(num_classes), int(num_masks)
        self.num_candidates, self.capacity = int(num_candidates), int(capacity)
        self._runtime = runtime
        self._kernel = f"decode_{layout}_{'f32' if self.dtype == np.float32 else 'f16'}"
        runtime.prepare([self._kernel])
        self._buffers = DeviceBuffers(runtime, {
            "boxes": 16 * capacity, "scores": 4 * capacity, "class_ids": 4 * capacity, "source": 4 * capacity,
            "count": 4})
        self._prediction: Any = None

    @property
    def prediction_shape(self) -> tuple[int, int, int]:
        n, nc, nm = self.num_candidates, self.num_classes, self.num_masks
        return {"v5": (1, n, 5 + nc + nm), "v8": (1, 4 + nc + nm, n), "e2e": (1, n, 6 + nm)}[self.layout]

    def candidates(self, prediction: int = 0) -> DeviceCandidates:
        """The device candidate list this decoder writes; its coefficients are read from the model output
        at ``prediction`` (0: none, for users of the list that need no coefficients)."""
        b = self._buffers
        n, nc, nm = self.num_candidates, self.num_classes, self.num_masks
        # (first coefficient of row 0, elements between rows, elements between coefficients) per layout
        first, row, step = {"v5": (5 + nc, 5 + nc + nm, 1), "v8": ((4 + nc) * n, 1, n),
                            "e2e": (6, 6 + nm, 1)}[self.layout]
        coefs = prediction + first * self.dtype.itemsize if prediction and nm else 0
        return DeviceCandidates(b["boxes"], b["scores"], b["class_ids"], b["source"], coefs, b["count"],
                                self.capacity, nm, max(1, (n - 1).bit_length()), row, step,
                                self.dtype == np.float16)

    def run(self, prediction: int, letterbox: Letterbox, conf: float, *, stream: Any = None) -> DeviceCandidates:
        """Decode the model output at ``prediction`` (``prediction_shape`` of ``dtype``); nothing waits. The
        candidates carry ``letterbox``: the NMS maps the kept boxes to frame pixels with it."""
        if not 0.0 <= float(conf) <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {conf}")
        prediction = as_address(prediction, "prediction")
        out = replace(self.candidates(prediction), letterbox=letterbox)
        args = (prediction, self.num_candidates, self.num_classes, self.num_masks, np.float32(conf),
                out.boxes, out.scores, out.class_ids, out.source, out.count, self.capacity)
        self._runtime.memset(out.count, 0, 4, stream)
        grid = grid_for(self.num_candidates, self._runtime)
        self._runtime.launch(self._kernel, (grid, 1), self._runtime.block_threads, args, stream)
        return out

    def run_host(self, prediction: np.ndarray, letterbox: Letterbox, conf: float, *,
                 stream: Any = None) -> HostCandidates:
        """Upload ``prediction``, decode, download the candidates (slot order; see ``sorted_by_source``)."""
        prediction = np.ascontiguousarray(prediction)
        if prediction.shape != self.prediction_shape or prediction.dtype != self.dtype:
            raise ValueError(f"prediction must be {self.prediction_shape} {self.dtype}, got "
                             f"{prediction.shape} {prediction.dtype}")
        if self._prediction is None:
            self._prediction = self._runtime.alloc(prediction.nbytes)
        self._runtime.upload(int(self._prediction), prediction, stream)
        out = download_candidates(self._runtime, self.run(int(self._prediction), letterbox, conf, stream=stream),
                                  stream)
        if not self.num_masks:
            return out
        rows = prediction[0].T if self.layout == "v8" else prediction[0]
        coefs = rows[out.source, rows.shape[1] - self.num_masks:].astype(np.float32)
        return HostCandidates(out.xyxy, out.scores, out.class_ids, out.source, coefs, out.total)

    def close(self) -> None:
        self._buffers.close()
        if self._prediction is not None:
            self._runtime.free(self._prediction)
            self._prediction = None


def download_candidates(runtime: KernelRuntime, out: DeviceCandidates, stream: Any = None) -> HostCandidates:
    """Copy a device candidate list to the host (waits for the stream); mask_coefs is None."""
    count = np.zeros(1, np.uint32)
    runtime.download(count, out.count, stream)
    runtime.synchronize(stream)
    total = int(count[0])
    n = min(total, out.capacity)
    boxes, scores = np.empty((n, 4), np.float32), np.empty(n, np.float32)
    class_ids, source = np.empty(n, np.int32), np.empty(n, np.int32)
    if n:
        runtime.download(boxes, out.boxes, stream)
        runtime.download(scores, out.scores, stream)
        runtime.download(class_ids, out.class_ids, stream)
        runtime.download(source, out.source, stream)
        runtime.synchronize(stream)
    return HostCandidates(boxes, scores, class_ids, source, None, total)
