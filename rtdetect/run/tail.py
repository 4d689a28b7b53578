"""The end of every run, per source, in frame order and in the consuming thread: the detection stages (the
tracker), then the render (only when a sink wants it), every sink, and the source's :class:`RunResult`.
One source's run and each stream of a list end in the same tail."""
from __future__ import annotations

import time
from typing import Callable, Sequence

from ..annotate import Renderer
from ..metrics import FpsMeter
from ..sinks.base import Sink
from ..tracking.stage import TrackingStage
from .result import RunResult
from .work import DetectionStage, WorkItem


def tracking_stage(names: Sequence[str], fps: float | None, *, track=False,
                   count_lines: Sequence[tuple[float, float, float, float]] = ()) -> TrackingStage | None:
    """The tracker ``track`` names (True: the default; a name of ``tracking.TRACKERS``; a factory), counting
    the crossings of ``count_lines`` (which imply the default tracker); None when neither is asked for."""
    from ..tracking import tracker_factory

    factory = tracker_factory(track or bool(count_lines))
    if factory is None:
        return None
    return TrackingStage(names, frame_rate=fps, lines=count_lines, tracker=factory)


def apply_stages(item: WorkItem, stages: Sequence[DetectionStage]) -> WorkItem:
    """``item`` after each detection stage, each timed under its name."""
    for stage in stages:
        start = time.perf_counter()
        item.detections = stage(item.frame, item.detections)
        item.timings[stage.name] = time.perf_counter() - start
    return item


class Tail:
    """``write(item)``: render (when a sink ``needs_render``), write every sink, count into ``result``.
    ``show_fps``: the rendered image carries the measured FPS; ``on_frame(item)``: called after each frame
    (progress bars, the live view's timings)."""

    def __init__(self, names: Sequence[str], sinks: Sequence[Sink], result: RunResult, *, show_fps: bool = False,
                 on_frame: Callable[[WorkItem], None] | None = None) -> None:
        self.sinks, self.result, self.show_fps, self.on_frame = list(sinks), result, show_fps, on_frame
        self.renderer = Renderer(names) if self.renders else None
        self._meter = FpsMeter()

    @property
    def renders(self) -> bool:
        """Does any sink take the rendered image?"""
        return any(sink.needs_render for sink in self.sinks)

    @property
    def quit_requested(self) -> bool:
        return any(sink.quit_requested for sink in self.sinks)

    def write(self, item: WorkItem) -> None:
        fps = self._meter.tick()
        start = time.perf_counter()
        rendered = None
        if self.renderer is not None:
            rendered = self.renderer.render(item.frame.image, item.detections, fps if self.show_fps else None,
                                            painted=item.painted)
        written = time.perf_counter()
        for sink in self.sinks:
            sink.write(item.frame, item.detections, rendered)
        item.timings["render"], item.timings["write"] = written - start, time.perf_counter() - written
        self.result.frames += 1
        self.result.detections += len(item.detections)
        self.result.stages.add(item.timings)
        if self.on_frame is not None:
            self.on_frame(item)
