"""The ``Model``: an engine with its preprocess, decoder and post-processing, as one object the runner drives.

Two implementations of one role (:class:`Model`):

- :class:`CpuModel` around any ``Engine`` (ONNX Runtime, OpenVINO, or TensorRT with the host's decode): three
  stages, letterbox → inference (up to the engine's ``max_in_flight`` requests) → decode+NMS+masks; several
  frames batched into one engine call for stream lists (``prepare`` / ``infer_batch`` / ``finish``).
- :class:`GpuModel` around the fused GPU processor (``rtdetect.gpu.processor.GpuProcessor``): one stage, every
  step on the device; files stream through it (frame k + 1 uploads while frame k computes).

``configure(config)`` may be called from any thread (the live view's controls do); a frame is processed
wholly under the settings in force when it entered the model, and a change applies from the next frame on.
:func:`open_model` is the one place that chooses between the two.
"""
from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from typing import Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from ..decode import select_decoder
from ..inference.base import Engine
from ..postprocess import PostprocessConfig, Postprocessor
from ..preprocess import Preprocessor
from ..types import Frame
from .work import Stage, WorkItem, result_unless_stopped


@runtime_checkable
class Model(Protocol):
    """The role: ``stages()`` for the runner, ``process`` / ``process_many`` in the calling thread."""

    engine: Engine
    names: list[str]

    def stages(self) -> list[Stage]:
        """The steps from a captured frame to its detections, in order."""

    def process(self, frame: Frame) -> WorkItem:
        """Every stage for one frame in the calling thread; the item holds its detections and timings."""

    def process_many(self, frames: Sequence[Frame]) -> list[WorkItem]:
        """:meth:`process` for several frames, batched through the engine where it can."""

    def configure(self, config: PostprocessConfig) -> None:
        """New thresholds / class filter, from the next frame to enter the model on (checked now)."""

    def describe(self) -> dict:
        """``layout`` (output layout), ``classes`` (how many), ``masks`` (segmentation or not)."""

    def paint_on_device(self, enabled: bool) -> None:
        """Whether frames come back with their masks already painted (``WorkItem.painted``) for rendering."""


def _run_sequentially(stages: Sequence[Stage], item: WorkItem) -> WorkItem:
    """Every stage on ``item`` in the calling thread, each timed as the runner times it."""
    for stage in stages:
        start = time.perf_counter()
        finish = stage.run(item)
        if finish is not None:
            finish(threading.Event())  # never set: the engine settles every Future
        if stage.timed:
            item.timings[stage.name] = time.perf_counter() - start
    return item


class CpuModel:
    """An ``Engine`` with the host's letterbox, decoder and post-processing. The decoder is chosen from the
    engine's metadata and real output shapes, found by a warm-up inference here (so the first timed frame
    is never a cold one)."""

    def __init__(self, engine: Engine, config: PostprocessConfig = PostprocessConfig(), *,
                 warmup_runs: int = 2) -> None:
        self.engine = engine
        self.preprocess = Preprocessor(engine.input_hw, dtype=engine.input_dtype)
        outputs = self.warmup(warmup_runs)
        self._decoder, self._roles, self.names = select_decoder([o.shape for o in outputs], engine.metadata)
        self.configure(config)

    @property
    def postprocess(self) -> Postprocessor:
        """The post-processing in force (the one the next frame entering the model gets)."""
        return self._postprocess

    def configure(self, config: PostprocessConfig) -> None:
        # One reference swap: each frame took its Postprocessor when it entered the model (``prepare``).
        self._postprocess = Postprocessor(self._decoder, self._roles, self.names, config)

    def describe(self) -> dict:
        return {"layout": self._decoder.layout, "classes": len(self.names), "masks": self._postprocess.has_masks}

    def paint_on_device(self, enabled: bool) -> None:
        """Nothing to do: the renderer paints the masks on the host."""

    def warmup(self, runs: int) -> list[np.ndarray]:
        """Run the engine ``runs`` (>= 1) times on a padding-grey input; returns the last outputs."""
        blank = np.full((*self.engine.input_hw, 3), 114, dtype=np.uint8)
        tensor, _ = self.preprocess(blank)
        outputs = self.engine.infer(tensor)
        for _ in range(runs - 1):
            outputs = self.engine.infer(tensor)
        return outputs

    def preprocessor(self) -> Preprocessor:
        """A letterbox of this model's input, with buffers of its own (one per thread or stream)."""
        return Preprocessor(self.engine.input_hw, dtype=self.engine.input_dtype)

    # -- the steps ------------------------------------------------------------------------------------
    def prepare(self, item: WorkItem, preprocess: Preprocessor | None = None) -> None:
        """Letterbox the frame into ``item.tensor`` (1, 3, h, w); the item takes the settings now in force."""
        item.settings = self._postprocess
        item.tensor, item.letterbox = (preprocess or self.preprocess)(item.frame.image)

    def submit(self, item: WorkItem) -> Callable[[threading.Event], bool]:
        """Start the inference of ``item``; the returned ``finish(stop)`` waits for its outputs."""
        pending = self.engine.submit(item.tensor)

        def finish(stop: threading.Event) -> bool:
            item.outputs = result_unless_stopped(pending, stop)
            item.tensor = None
            return item.outputs is not None

        return finish

    def infer_batch(self, items: Sequence[WorkItem]) -> None:
        """One engine call for the prepared ``items`` (B, 3, h, w), or one per ``max_batch`` of them; each
        item gets its own outputs (batch index kept, size 1)."""
        if not items:
            return
        tensor = np.concatenate([item.tensor for item in items])
        limit = self.engine.max_batch or len(items)
        outputs: list[list[np.ndarray]] = []
        for first in range(0, len(items), limit):
            chunk = self.engine.infer(tensor[first:first + limit])
            outputs.extend([o[k:k + 1] for o in chunk] for k in range(len(chunk[0])))
        for item, outs in zip(items, outputs):
            item.outputs, item.tensor = outs, None

    def finish(self, item: WorkItem) -> None:
        """Decode, NMS and masks of ``item``'s outputs under its settings: ``item.detections`` in frame pixels."""
        postprocess = item.settings or self._postprocess
        item.detections, timings = postprocess(item.outputs, item.letterbox)
        item.timings.update(timings)
        item.outputs = item.settings = None

    def stages(self) -> list[Stage]:
        """A stage that is not timed here records its own finer timings (post-processing splits decode+NMS
        from masks). Inference keeps as many frames in flight as the engine allows."""
        return [Stage("preprocess", True, self.prepare, newest_only=True),
                Stage("inference", True, self.submit, self.engine.max_in_flight, newest_only=True),
                Stage("postprocess", False, self.finish)]

    def process(self, frame: Frame) -> WorkItem:
        return _run_sequentially(self.stages(), WorkItem(frame))

    def process_many(self, frames: Sequence[Frame]) -> list[WorkItem]:
        items = [WorkItem(frame) for frame in frames]
        for item in items:
            self.prepare(item)
        self.infer_batch(items)
        for item in items:
            self.finish(item)
        return items


class GpuModel:
    """The fused GPU processor as a ``Model``: preprocess, inference, decode, NMS and masks on the device in
    one stage; only the kept detections come back. ``processor`` provides ``process_frame(image) ->
    (detections, seconds by stage, painted frame or None)``, ``process_stream(images)`` (the same per frame,
    in order, uploading frame k + 1 while frame k computes), ``names``, ``layout``, ``has_masks``, ``paint_masks``,
    ``configure(config)`` (recorded, applied by the processor between two frames) and ``close()``; the
    caller owns and closes it.

    Files stream through ``process_stream`` (throughput first); live sources go frame by frame (latency
    first: the streaming form would hold each result until the next frame arrives)."""

    def __init__(self, processor) -> None:
        self.processor = processor
        self.names = list(processor.names)

    @property
    def engine(self):
        """The engine the processor drives (what ran, for reports such as ``rtdetect val``)."""
        return self.processor.engine

    def configure(self, config: PostprocessConfig) -> None:
        self.processor.configure(config)

    def describe(self) -> dict:
        return {"layout": self.processor.layout, "classes": len(self.names), "masks": self.processor.has_masks}

    def paint_on_device(self, enabled: bool) -> None:
        self.processor.paint_masks = enabled

    @staticmethod
    def _settle(item: WorkItem, detections, timings: dict[str, float], painted) -> WorkItem:
        item.detections, item.painted = detections, painted
        item.timings.update(timings)
        return item

    def _fused(self, item: WorkItem) -> None:
        self._settle(item, *self.processor.process_frame(item.frame.image))

    def _streamed(self, items: Iterator[WorkItem]) -> Iterator[WorkItem]:
        """``items`` through ``processor.process_stream``, each with its detections and timings."""
        pending: list[WorkItem] = []

        def images() -> Iterator[np.ndarray]:
            for item in items:
                pending.append(item)
                yield item.frame.image

        for result in self.processor.process_stream(images()):
            yield self._settle(pending.pop(0), *result)

    def stages(self) -> list[Stage]:
        return [Stage("gpu", False, self._fused, newest_only=True, streamed=self._streamed)]

    def process(self, frame: Frame) -> WorkItem:
        item = WorkItem(frame)
        self._fused(item)
        return item

    def process_many(self, frames: Sequence[Frame]) -> list[WorkItem]:
        return [self.process(frame) for frame in frames]


def open_model(engine: Engine, config: PostprocessConfig, stack: ExitStack, *, batched: bool = False) -> Model:
    """The model around an open ``engine``: on TensorRT the fused GPU one (whose processor ``stack``
    closes), otherwise the host's. ``batched`` (frames of several streams in one engine call, stream
    lists): the host's stages around any engine, as the fused GPU path takes one frame at a time."""
    if engine.name != "tensorrt" or batched:
        return CpuModel(engine, config)
    from ..gpu.processor import GpuProcessor

    processor = GpuProcessor(engine, config)
    stack.callback(processor.close)
    return GpuModel(processor)
