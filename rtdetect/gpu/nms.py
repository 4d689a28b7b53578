"""GPU class-aware NMS with exactly the reference's answer (``rtdetect.nms``), ties and max_det included.

Kernels in kernels/nms.cu (read its header for the design): an on-device stable radix sort (visiting order
= score descending, ties by a key ascending; then grouped by class), 64x64 IoU bitmask tiles per class
segment, a per-segment scan that settles 64 rows per step, and a selection of the first ``max_det`` kept
candidates in visiting order. Everything reads the candidate count from device memory, so the whole
chain runs without a host round trip; only ``download_detections`` waits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import Letterbox
from .decode import DeviceCandidates
from .runtime import DeviceBuffers, KernelRuntime, Stage, grid_for

TILE = 64
TILE_BYTES = TILE * 8  # 64 rows of one uint64 each
INITIAL_MASK_CANDIDATES = 4096  # the bitmask starts with the tiles of this many candidates in one class
SORT_MAX_THREADS = 256
NMS_KERNELS = ("nms_sort", "nms_segments", "nms_mask", "nms_scan", "nms_select", "nms_gather_f32", "nms_gather_f16")


@dataclass(frozen=True)
class DeviceDetections:
    """Device addresses of the kept detections (what ``GpuNms.run`` fills), ``max_det`` rows each.

    boxes (max_det, 4) float32 frame pixels (clipped to the frame); scores float32; class_ids int32; source int32 (model candidate index);
    index int32 (candidate slot); coefs (max_det, num_masks) float32; count: one uint32 (kept rows).
    """

    boxes: int
    scores: int
    class_ids: int
    source: int
    index: int
    coefs: int
    count: int
    max_det: int
    num_masks: int


@dataclass(frozen=True)
class HostDetections:
    """Downloaded kept detections in visiting order (score descending)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    source: np.ndarray
    index: np.ndarray
    mask_coefs: np.ndarray | None


def class_bits_for(num_classes: int | None) -> int:
    """Bits of the class id the sort must look at: all 32 when the number of classes is unknown."""
    if num_classes is None:
        return 32
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return (int(num_classes) - 1).bit_length()


class GpuNms(Stage):
    """NMS over device candidate lists of up to ``capacity`` entries, keeping at most ``max_det``.

    num_classes: class ids are promised to lie in [0, num_classes) (the sort then looks at fewer bits);
    None accepts any int32 class id. Device memory: about 40 bytes per candidate of ``capacity``, plus the IoU
    bitmask, which holds only the 64x64 tiles the candidates that passed need (sum over classes of
    k (k + 1) / 2 tiles of 512 bytes, k = ceil(candidates of the class / 64)): it starts at what 4096
    candidates of one class need (1 MB) and grows when a frame needs more (``grow``; the frame is then run
    again: a frame whose tiles do not fit reports no detection, never a wrong one).
    """

    def __init__(self, runtime: KernelRuntime, *, capacity: int = 8192, max_det: int = 300,
                 num_masks: int = 0, num_classes: int | None = None) -> None:
        if not 1 <= capacity <= 2**31 - 1:
            raise ValueError(f"capacity must be in [1, 2^31), got {capacity}")
        if max_det < 1 or num_masks < 0:
            raise ValueError(f"need max_det >= 1 and num_masks >= 0, got {max_det}, {num_masks}")
        self.capacity, self.max_det, self.num_masks = int(capacity), int(max_det), int(num_masks)
        self.class_bits = class_bits_for(num_classes)
        self.words = -(-self.capacity // TILE)
        self._runtime = runtime
        runtime.prepare(NMS_KERNELS)
        cap, det = self.capacity, self.max_det
        self._buffers = DeviceBuffers(runtime, {
            "order": 4 * cap, "rank": 4 * cap, "sorted": 4 * cap, "work": 4 * cap,
            "seg_start": 4 * (cap + 1), "tile_offset": 4 * (cap + 1), "seg_info": 8,
            "keep": cap,
            "det_index": 4 * det, "det_count": 4, "det_boxes": 16 * det, "det_scores": 4 * det,
            "det_classes": 4 * det, "det_source": 4 * det, "det_coefs": 4 * det * max(num_masks, 1)})
        self._host: DeviceBuffers | None = None
        # Class segments longer than the scan's shared memory holds keep their removed-bits in global
        # memory: one row of `words` per scan block (a few hundred KB; the kernel decides which it uses).
        self._scan_blocks = max(1, min(cap, runtime.grid_blocks))
        self._spill = runtime.alloc(8 * self._scan_blocks * self.words)
        self.tile_capacity, self._mask = 0, None
        self.grow(sum_tiles_upper_bound(min(cap, INITIAL_MASK_CANDIDATES)))

    @property
    def tiles_needed_address(self) -> int:
        """Device address of one uint32: the bitmask tiles the last run's candidates needed (copy it back
        with the results; more than ``tile_capacity`` means: ``grow`` and run the frame again)."""
        return self._buffers["seg_info"] + 4

    def grow(self, tiles: int) -> bool:
        """Make the bitmask hold at least ``tiles`` tiles (reallocated at 1.5x the need, so a slowly rising
        count does not reallocate every frame). True when it was reallocated: work queued or captured with
        the old address (a CUDA graph) must be redone."""
        if tiles <= self.tile_capacity:
            return False
        capacity = max(int(tiles), int(tiles * 3 // 2) if self.tile_capacity else int(tiles))
        if self._mask is not None:
            self._runtime.free(self._mask)
            self._mask = None
        self._mask = self._runtime.alloc(TILE_BYTES * capacity)
        self.tile_capacity = capacity
        return True
    def detections(self) -> DeviceDetections:
        b = self._buffers
        return DeviceDetections(b["det_boxes"], b["det_scores"], b["det_classes"], b["det_source"],
                                b["det_index"], b["det_coefs"], b["det_count"], self.max_det, self.num_masks)

    def run(self, candidates: DeviceCandidates, iou_thres: float, *, tie_by_source: bool = True,
            stream: Any = None) -> DeviceDetections:
        """Queue NMS of ``candidates``; ties in score go to the lower model candidate index (``source``)
        when ``tie_by_source``, else to the lower slot. Returns the detection buffers; nothing waits. When
        the tiles the candidates need (``tiles_needed_address``) exceed ``tile_capacity``, the detections
        are empty: ``grow`` and run again (``run_settled`` does both)."""
        if candidates.capacity > self.capacity:
            raise ValueError(f"candidate list of capacity {candidates.capacity} exceeds this NMS's {self.capacity}")
        if candidates.num_masks != self.num_masks:
            raise ValueError(f"candidates carry {candidates.num_masks} mask coefficients, NMS expects {self.num_masks}")
        rt, b, cap = self._runtime, self._buffers, candidates.capacity
        thres = np.float32(iou_thres)
        tie_keys, tie_bits = (candidates.source, candidates.source_bits) if tie_by_source else (0, 0)
        sort_threads = min(rt.block_threads, SORT_MAX_THREADS)
        rt.launch("nms_sort", (1, 1), sort_threads,
                  (candidates.scores, candidates.class_ids, tie_keys, candidates.count, cap, tie_bits,
                   self.class_bits, b["order"], b["rank"], b["sorted"], b["work"]), stream)
        rt.launch("nms_segments", (1, 1), rt.block_threads,
                  (candidates.class_ids, b["sorted"], candidates.count, cap, b["seg_start"], b["tile_offset"],
                   b["seg_info"]), stream)
        tiles_possible = sum_tiles_upper_bound(cap)
        mask, tiles = int(self._mask), self.tile_capacity
        rt.launch("nms_mask", (max(1, min(tiles_possible, rt.grid_blocks)), 1), TILE,
                  (candidates.boxes, b["sorted"], b["seg_start"], b["tile_offset"], b["seg_info"], tiles,
                   thres, mask), stream)
        rt.launch("nms_scan", (max(1, min(cap, self._scan_blocks)), 1), rt.block_threads,
                  (mask, b["sorted"], b["rank"], b["seg_start"], b["tile_offset"], b["seg_info"], tiles,
                   self.words, int(self._spill), b["keep"]), stream)
        rt.launch("nms_select", (1, 1), rt.block_threads,
                  (b["keep"], b["order"], candidates.count, cap, b["seg_info"], tiles, self.max_det,
                   b["det_index"], b["det_count"]), stream)
        if self.num_masks and not candidates.coefs:
            raise ValueError("candidates carry no coefficient address: decode with the model output's address")
        rt.launch("nms_gather_f16" if candidates.coefs_half else "nms_gather_f32", (grid_for(self.max_det, rt), 1),
                  rt.block_threads,
                  (b["det_index"], b["det_count"], candidates.boxes, candidates.scores, candidates.class_ids,
                   candidates.source, candidates.coefs, candidates.coef_row, candidates.coef_step,
                   self.num_masks, *gather_letterbox(candidates.letterbox), b["det_boxes"], b["det_scores"], b["det_classes"], b["det_source"],
                   b["det_coefs"]), stream)
        return self.detections()

    def run_host(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_thres: float, *,
                 stream: Any = None) -> np.ndarray:
        """Same contract as ``rtdetect.nms.nms``: kept indices (int64, visiting order) of host arrays."""
        boxes = np.ascontiguousarray(boxes, np.float32).reshape(-1, 4)
        scores = np.ascontiguousarray(scores, np.float32).reshape(-1)
        class_ids = np.ascontiguousarray(class_ids, np.int32).reshape(-1)
        n = len(scores)
        if not len(boxes) == n == len(class_ids):
            raise ValueError(f"nms inputs disagree on N: boxes {boxes.shape}, scores {scores.shape}, "
                             f"class_ids {class_ids.shape}")
        if n > self.capacity:
            raise ValueError(f"{n} candidates exceed this NMS's capacity {self.capacity}")
        if n == 0:
            return np.zeros(0, np.int64)
        if self.class_bits < 32 and (class_ids.min() < 0 or class_ids.max() >= 2**self.class_bits):
            raise ValueError(f"class ids must lie in [0, {2**self.class_bits}) for this NMS")
        host = self._host_candidates()
        rt = self._runtime
        rt.upload(host["boxes"], boxes, stream)
        rt.upload(host["scores"], scores, stream)
        rt.upload(host["class_ids"], class_ids, stream)
        rt.upload(host["source"], np.arange(n, dtype=np.int32), stream)
        rt.upload(host["count"], np.array([n], np.uint32), stream)
        candidates = DeviceCandidates(host["boxes"], host["scores"], host["class_ids"], host["source"],
                                      host["coefs"], host["count"], self.capacity, self.num_masks, 0,
                                      coef_row=self.num_masks)
        self.run_settled(candidates, iou_thres, tie_by_source=False, stream=stream)
        return download_detections(rt, self.detections(), stream).index.astype(np.int64)

    def run_settled(self, candidates: DeviceCandidates, iou_thres: float, *, tie_by_source: bool = True,
                    stream: Any = None) -> DeviceDetections:
        """``run``, then wait for it: when the bitmask was too small for these candidates, grow it and run
        again. For callers that wait anyway; the frame pipeline reads the tiles with its results instead."""
        self.run(candidates, iou_thres, tie_by_source=tie_by_source, stream=stream)
        if self.grow(self.download_tiles_needed(stream)):
            self.run(candidates, iou_thres, tie_by_source=tie_by_source, stream=stream)
        return self.detections()

    def download_tiles_needed(self, stream: Any = None) -> int:
        """The bitmask tiles the last run needed (waits for the stream)."""
        tiles = np.zeros(1, np.uint32)
        self._runtime.download(tiles, self.tiles_needed_address, stream)
        self._runtime.synchronize(stream)
        return int(tiles[0])

    def _host_candidates(self) -> DeviceBuffers:
        if self._host is None:
            cap = self.capacity
            self._host = DeviceBuffers(self._runtime, {
                "boxes": 16 * cap, "scores": 4 * cap, "class_ids": 4 * cap, "source": 4 * cap,
                "coefs": 4 * cap * max(self.num_masks, 1), "count": 4})
        return self._host

    def close(self) -> None:
        self._buffers.close()
        for name in ("_mask", "_spill"):
            if getattr(self, name) is not None:
                self._runtime.free(getattr(self, name))
                setattr(self, name, None)
        if self._host is not None:
            self._host.close()
            self._host = None


def gather_letterbox(letterbox: Letterbox | None) -> tuple:
    """The gather kernel's (scale, pad_x, pad_y, frame_w, frame_h, clip) arguments: map the kept boxes to
    frame pixels and clip them (``Letterbox.to_original``), or copy them as they are (None)."""
    if letterbox is None:
        return np.float32(1), np.float32(0), np.float32(0), np.float32(0), np.float32(0), 0
    frame_h, frame_w = letterbox.source_hw
    return (np.float32(letterbox.scale), np.float32(letterbox.pad_x), np.float32(letterbox.pad_y),
            np.float32(frame_w), np.float32(frame_h), 1)


def sum_tiles_upper_bound(capacity: int) -> int:
    """Most mask tiles a list of ``capacity`` candidates can need (all in one class)."""
    k = -(-capacity // TILE)
    return k * (k + 1) // 2


def download_detections(runtime: KernelRuntime, det: DeviceDetections, stream: Any = None) -> HostDetections:
    """Copy the kept detections to the host (waits for the stream)."""
    count = np.zeros(1, np.uint32)
    runtime.download(count, det.count, stream)
    runtime.synchronize(stream)
    n = int(count[0])
    out = HostDetections(np.empty((n, 4), np.float32), np.empty(n, np.float32), np.empty(n, np.int32),
                         np.empty(n, np.int32), np.empty(n, np.int32),
                         np.empty((n, det.num_masks), np.float32) if det.num_masks else None)
    if n:
        runtime.download(out.xyxy, det.boxes, stream)
        runtime.download(out.scores, det.scores, stream)
        runtime.download(out.class_ids, det.class_ids, stream)
        runtime.download(out.source, det.source, stream)
        runtime.download(out.index, det.index, stream)
        if out.mask_coefs is not None:
            runtime.download(out.mask_coefs, det.coefs, stream)
        runtime.synchronize(stream)
    return out
