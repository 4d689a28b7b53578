"""The zero-copy GPU processor (``GpuProcessor``): a BGR frame in, ``Detections`` in frame pixels out, all
between on the device. The model around it is ``rtdetect.run.GpuModel``.

    host frame ─(pinned, copy stream)─▶ device frame ─letterbox kernel─▶ engine input buffer
      ─TensorRT─▶ engine output buffers ─decode kernel─▶ candidates ─NMS kernels─▶ kept detections
      ─(masks kernels)─▶ box-local crops ─▶ only the kept rows (and their crops) back to pinned host memory
      ─(paint_masks: blend kernel)─▶ the masks painted into the uploaded frame ─▶ the rows they span back

The kernels and their launchers are ``rtdetect.gpu`` (GpuPreprocess, GpuDecode, GpuNms, GpuMasks on a
``CudaRuntime``), here pointed straight at the TensorRT engine's own device buffers and run on the engine's
stream. Uploads go on a second stream, double-buffered (:mod:`rtdetect.gpu.slots`), so
``process_stream`` uploads frame k + 1 while frame k is computed. Detection models need one host sync per
frame; segmentation models two (the kept count decides how many masks come back). With ``paint_masks`` on
(the run loop sets it when a sink renders), segmentation frames also come back with their masks painted on
the device (:mod:`rtdetect.gpu.paint`) in ``GpuFrame.painted``, within the second wait.

Timings (``stage_seconds``): GPU time from CUDA events, keys ``upload``, ``preprocess``, ``inference``,
``decode_nms``, ``masks`` (segmentation), ``download``, and ``paint`` (painting on: the crops' and the painted
rows' copies back and the blend). With the CUDA graph on (default), the stages run as
one graph and are reported together as ``gpu_graph``; pass ``use_graph=False`` for per-stage numbers.

Semantics against the CPU model (``rtdetect.run.CpuModel``): same decode rules and NMS rule, NMS on
the boxes in input pixels and the kept ones mapped to frame pixels and clipped after, as on the CPU, so the
same boxes are kept at the frame's borders; the candidate list holds every row of the model output
(a smaller ``capacity`` given on purpose drops the excess in atomic order, reported once), and the NMS
bitmask grows to what a frame's candidates need (that frame is then run again); a ``classes`` filter
applies after NMS (NMS is per class, so only the ``max_det`` cut can differ).
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from ..decode import select_decoder
from ..postprocess import PostprocessConfig
from ..preprocess import letterbox_params
from ..notes import note
from ..types import BoxMasks, Detections
from .device import new_stream
from .graph_cache import GraphCache
from .masks import GpuMasks, unpack_crops
from .slots import FrameSlot

class GpuFrame(NamedTuple):
    """One frame's results: ``detections`` in frame pixels, ``timings`` (GPU seconds per stage) and, with
    ``paint_masks`` on a segmentation model, ``painted``: the frame with the shown detections' masks already
    painted ((H, W, 3) uint8 BGR; None otherwise)."""

    detections: Detections
    timings: dict[str, float]
    painted: np.ndarray | None = None


class GpuProcessor:
    """Runs a :class:`rtdetect.inference.tensorrt.TensorRTEngine` with rtdetect's CUDA kernels around it.

    runtime: the ``rtdetect.gpu`` kernel runtime; by default a ``CudaRuntime`` on the engine's device and
    stream (the CPU tests pass the kernel emulator's).

    ``process_frame(image)`` → :class:`GpuFrame` ``(detections, timings, painted)`` for one (H, W, 3) uint8 BGR
    frame; ``process_stream(images)`` yields the same for an iterable of frames, overlapping uploads with compute.
    ``names``: class names. ``configure(config)`` changes thresholds, from any thread: the change is applied
    by the driving thread between two frames (it recreates the stages and slots a frame in flight uses), so
    every frame is processed wholly under the settings in force when it was staged. ``close()`` frees the
    GPU stages (and the engine when ``owns_engine``); use ``with``. One thread drives the processing.
    ``paint_masks``: also paint the masks of segmentation frames on the device (see the module doc); off by
    default, since only rendered output needs it.
    """

    def __init__(self, engine, config: PostprocessConfig | None = None, *,
                 capacity: int | None = None, use_graph: bool = True, owns_engine: bool = False,
                 runtime=None, log=note) -> None:
        from .cuda_runtime import CudaRuntime

        self.engine, self.runner, self._owns_engine, self._log = engine, engine.runner, owns_engine, log
        self.cuda, self.stream = self.runner.cuda, self.runner.stream
        with self.runner.context.active():
            self.runner.set_batch(1)
            self._copy_stream = new_stream(self.cuda)
        self._owns_runtime = runtime is None
        self._runtime = CudaRuntime(context=self.runner.context, stream=self.stream) if runtime is None else runtime
        self._capacity = capacity
        self._masks, self._mask_host, self._overflow_reported = None, None, False
        self.paint_masks, self._painter = False, None
        self._graphs = GraphCache(self.stream, log, errors=(RuntimeError, self.cuda.Error), enabled=use_graph)
        self._slots, self._next = [], 0
        self._requested: PostprocessConfig | None = None  # a settings change not applied yet
        self._requested_lock = threading.Lock()
        try:
            self._describe_outputs(engine.metadata)
            self._apply(config or PostprocessConfig())
        except BaseException:
            self._owns_engine = False  # the caller still holds the engine it passed in
            self.close()
            raise

    def _describe_outputs(self, metadata: dict[str, str]) -> None:
        specs = self.runner.outputs
        shapes = [self.runner.output_shapes[s.name] for s in specs]
        decoder, roles, self.names = select_decoder(shapes, metadata)
        self.layout, self.needs_nms = decoder.layout, decoder.needs_nms
        self.num_classes, self.num_masks = decoder.num_classes, decoder.num_masks
        self._prediction = specs[roles.prediction]
        self._protos = specs[roles.protos] if roles.protos is not None and decoder.num_masks else None
        pred_shape = shapes[roles.prediction]
        self._num_candidates = int(pred_shape[2] if self.layout == "v8" else pred_shape[1])
        # Every row fits by default, so which candidates survive never follows the atomics' order.
        self.capacity = self._num_candidates if self._capacity is None else int(self._capacity)

    def configure(self, config: PostprocessConfig) -> None:
        """Ask for new thresholds / class filter / max_det (any thread; the latest request wins). They take
        effect from the next frame staged (``process_frame`` / ``process_stream``)."""
        with self._requested_lock:
            self._requested = config

    def _apply_requested(self) -> None:
        """The driving thread, between frames: apply the latest ``configure`` request, if any."""
        with self._requested_lock:
            config, self._requested = self._requested, None
        if config is not None:
            self._apply(config)

    def _apply(self, config: PostprocessConfig) -> None:
        """Recreate what depends on ``config`` and drop the graphs. No frame may be in flight."""
        from .decode import GpuDecode
        from .nms import GpuNms
        from .preprocess import GpuPreprocess

        self._close_stages()
        self.config = config
        classes = config.classes
        self._class_filter = None if classes is None else np.asarray(sorted(set(classes)), np.int32)
        self.has_masks = self._protos is not None and config.masks
        rt, runner = self._runtime, self.runner
        self._preprocess = GpuPreprocess(rt, self.engine.input_hw, dtype=runner.input.dtype)
        self._decode = GpuDecode(rt, layout=self.layout, num_classes=self.num_classes,
                                 num_candidates=self._num_candidates, num_masks=self.num_masks,
                                 dtype=self._prediction.dtype, capacity=self.capacity)
        self._nms = GpuNms(rt, capacity=self.capacity, max_det=config.max_det, num_masks=self.num_masks,
                           num_classes=self.num_classes)
        with self.runner.context.active():
            self._slots = [FrameSlot(self.cuda, i, config.max_det) for i in range(2)]
            self._graphs.drop()

    # -- the three steps of a frame: stage (upload), launch (compute + download), collect (results) -------
    def _stage(self, image: np.ndarray) -> FrameSlot:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {getattr(image, 'shape', None)} "
                             f"{getattr(image, 'dtype', type(image).__name__)}")
        slot = self._slots[self._next]
        if slot.busy:
            raise RuntimeError("both upload slots hold uncollected frames: collect a result first")
        self._next ^= 1
        with self.runner.context.active():
            if slot.stage(image, self._copy_stream):
                self._graphs.drop(lambda key: key[0] == slot.index)  # its frame buffer moved
        return slot

    def _launch(self, slot: FrameSlot) -> FrameSlot:
        slot.letterbox = letterbox_params(slot.frame_hw, self.engine.input_hw)[0]
        slot.nms_tiles = self._nms.tile_capacity
        with self.runner.context.active():
            self.stream.wait_for_event(slot.upload_clock.last)
            slot.clock.start(self.stream)
            if self._graphs.enabled:
                ran_as_graph = self._graphs.run((slot.index, slot.frame_hw), lambda: self._enqueue(slot, None))
                slot.clock.lap("gpu_graph" if ran_as_graph else "gpu_eager", self.stream)
            else:
                self._enqueue(slot, slot.clock)
            self._enqueue_download(slot)
            slot.clock.lap("download", self.stream)
        return slot

    def _enqueue(self, slot: FrameSlot, clock) -> None:
        """Queue preprocess → TensorRT → decode → NMS (→ masks) for the frame in ``slot`` (no host sync)."""
        lap = (lambda name: clock.lap(name, self.stream)) if clock is not None else (lambda name: None)
        runner, box = self.runner, slot.letterbox
        self._preprocess.run(int(slot.device), slot.frame_hw, 3 * slot.frame_hw[1],
                             int(runner.device[runner.input.name]), stream=self.stream)
        lap("preprocess")
        runner.enqueue()
        lap("inference")
        prediction = int(runner.device[self._prediction.name])
        candidates = self._decode.run(prediction, box, self.config.conf, stream=self.stream)
        # End-to-end models: IoU > 1 never holds, so NMS only orders by score and cuts at max_det.
        iou = self.config.iou if self.needs_nms else 1.0
        detections = self._nms.run(candidates, iou, stream=self.stream)
        lap("decode_nms")
        if self.has_masks:
            self._masks_for(slot.frame_hw).run(detections, int(runner.device[self._protos.name]), box,
                                               stream=self.stream)
            lap("masks")

    def _enqueue_download(self, slot: FrameSlot) -> None:
        det, results = self._nms.detections(), slot.results
        copy = self.cuda.memcpy_dtoh_async
        copy(results["count"], det.count, self.stream)
        copy(results["candidates"], self._decode.candidates().count, self.stream)
        copy(results["tiles"], self._nms.tiles_needed_address, self.stream)
        copy(results["boxes"], det.boxes, self.stream)
        copy(results["scores"], det.scores, self.stream)
        copy(results["classes"], det.class_ids, self.stream)
        if self.has_masks:
            masks = self._masks.device_masks()
            copy(results["mask_rects"], masks.rects, self.stream)
            copy(results["mask_info"], masks.info, self.stream)

    def _collect(self, slot: FrameSlot) -> GpuFrame:
        with self.runner.context.active():
            slot.clock.last.synchronize()  # the one host wait of a detection frame
            results = slot.results
            tiles = int(results["tiles"][0])
            if tiles > slot.nms_tiles:  # the NMS bitmask it ran with was too small: it reported nothing
                if self._nms.grow(tiles):
                    self._graphs.drop()  # graphs hold the old bitmask
                self._launch(slot)  # again, after any frame queued behind it (one stream: theirs are unharmed)
                slot.clock.last.synchronize()
            n = min(int(results["count"][0]), self.config.max_det)
            self._report_overflow(int(results["candidates"][0]))
            classes = results["classes"][:n].copy()
            shown = None if self._class_filter is None else np.isin(classes, self._class_filter)
            masks, painted = self._download_masks(slot, n, classes, shown) if self.has_masks else (None, None)
            timings = {**slot.upload_clock.seconds(), **slot.clock.seconds()}
        slot.busy = False
        detections = Detections(results["boxes"][:n].copy(), results["scores"][:n].copy(), classes, masks)
        if shown is not None:
            detections = detections[shown]
        return GpuFrame(detections, timings, painted)

    def _download_masks(self, slot: FrameSlot, n: int, classes: np.ndarray,
                        shown: np.ndarray | None) -> tuple[BoxMasks, np.ndarray | None]:
        """The kept detections' crops (second host wait; segmentation models only): exactly the bytes the
        crops cover. A frame whose crops outgrow the device buffer grows it and recomputes its masks. With
        ``paint_masks``, also the frame with the ``shown`` detections' masks painted (None when none of
        them has a pixel)."""
        masks, total = self._masks, int(slot.results["mask_info"][0])
        if n == 0:
            return BoxMasks.empty(slot.frame_hw), None
        if masks.grow(total):
            self._graphs.drop()  # graphs hold the old crop buffer
            masks.run(self._nms.detections(), int(self.runner.device[self._protos.name]), slot.letterbox,
                      stream=self.stream)
            self._mask_host = self.cuda.pagelocked_empty((masks.crop_bytes,), np.uint8)
        staged = self._mask_host[:total]
        if total:
            self.cuda.memcpy_dtoh_async(staged, masks.device_masks().crops, self.stream)
        painting = self.paint_masks and self._paint(slot, n, classes, shown, total)
        self.stream.synchronize()
        painted = slot.image().copy() if painting else None  # the slot's buffer is reused by a later frame
        return unpack_crops(slot.results["mask_rects"][:n], staged, slot.frame_hw), painted  # copies the crops

    def _paint(self, slot: FrameSlot, n: int, classes: np.ndarray, shown: np.ndarray | None, total: int) -> bool:
        """Queue the blend of the kept masks (the ``shown`` ones) into the slot's frame and its copy back."""
        from .paint import MaskPainter

        if self._painter is None:
            self._painter = MaskPainter(self._runtime, self.config.max_det)
        hidden = classes if shown is None else np.where(shown, classes, -1).astype(np.int32)
        painted = self._painter.paint(self._masks, int(slot.device), slot.image(), hidden,
                                      slot.results["mask_rects"][:n], total, stream=self.stream)
        if painted:
            slot.clock.lap("paint", self.stream)
        return painted

    def _masks_for(self, frame_hw: tuple[int, int]):
        if self._masks is None or self._masks.frame_hw != tuple(frame_hw):
            if self._masks is not None:
                self._masks.close()
                self._graphs.drop()  # graphs hold the old masks buffer
            proto_hw = tuple(int(d) for d in self.runner.output_shapes[self._protos.name][2:4])
            self._masks = GpuMasks(self._runtime, max_det=self.config.max_det, num_masks=self.num_masks,
                                   proto_hw=proto_hw, frame_hw=frame_hw, dtype=self._protos.dtype)
            self._mask_host = self.cuda.pagelocked_empty((self._masks.crop_bytes,), np.uint8)
        return self._masks

    def _report_overflow(self, candidates: int) -> None:
        if candidates > self.capacity and not self._overflow_reported:
            self._overflow_reported = True
            self._log(f"{candidates} candidates passed conf={self.config.conf} but the GPU list holds "
                      f"{self.capacity}: the rest were dropped (raise conf or capacity)")

    # -- public ----------------------------------------------------------------------------------------
    def process_frame(self, image: np.ndarray) -> GpuFrame:
        """Detections (frame pixels) and GPU seconds per stage for one (H, W, 3) uint8 BGR frame."""
        with self.runner.context.active():  # one push/pop for the whole frame (nested ones cost nothing)
            self._apply_requested()
            return self._collect(self._launch(self._stage(image)))

    def process_stream(self, images):
        """Yield ``(Detections, stage_seconds)`` per frame of ``images``, in order; frame k + 1 is uploaded
        (copy stream) while frame k computes. Detection models also launch k + 1 before reading k."""
        iterator = iter(images)
        first = next(iterator, None)
        if first is None:
            return
        context = self.runner.context
        with context.active():  # one push/pop per frame (never held across a yield)
            self._apply_requested()
            current = self._launch(self._stage(first))
        for image in iterator:
            if self._requested is not None:  # new settings: finish the frame in flight under the old ones first
                with context.active():
                    result = self._collect(current)
                yield result
                with context.active():
                    self._apply_requested()
                    current = self._launch(self._stage(image))
                continue
            with context.active():
                if self.has_masks:  # masks of frame k live in one device buffer: read them before k + 1 computes
                    staged = self._stage(image)
                    result = self._collect(current)
                    current = self._launch(staged)
                else:
                    following = self._launch(self._stage(image))
                    result = self._collect(current)
                    current = following
            yield result
        with context.active():
            result = self._collect(current)
        yield result

    def _close_stages(self) -> None:
        """Free the kernel stages (on the runtime's context) and the upload slots (on the engine's)."""
        for stage in (getattr(self, name, None) for name in ("_preprocess", "_decode", "_nms", "_masks", "_painter")):
            if stage is not None:
                stage.close()
        self._masks = self._painter = None
        if getattr(self, "_slots", None) and self.runner.context is not None:
            with self.runner.context.active():  # the slots' buffers and events are freed here, not later
                for slot in self._slots:
                    slot.close()
                self._slots = []
        self._slots = []

    def close(self) -> None:
        """Wait for queued work, then free the graphs, the GPU stages, the slots, the copy stream and the
        runtime; close the engine when this pipeline owns it."""
        if self._runtime is None:
            return
        if self.runner.context is not None:  # the engine may have been closed first by its owner
            with self.runner.context.active():
                self._settle()
        self._close_stages()
        self._runtime_close()
        if self._owns_engine:
            self.engine.close()

    def _settle(self) -> None:
        """With the context current: finish in-flight work (a buffer must not be freed under a running
        kernel), destroy the graphs and release the host buffers and the copy stream (pycuda objects
        freed after their context is released leak)."""
        self._copy_stream.synchronize()
        self.stream.synchronize()
        self._graphs.drop()
        self._mask_host = None
        self._copy_stream = None

    def _runtime_close(self) -> None:
        if self._owns_runtime:
            self._runtime.close()
        self._runtime = None

    def __enter__(self) -> "GpuProcessor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
