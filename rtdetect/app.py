"""What the commands do, as plain functions with keyword arguments (the CLI only parses argv into them)."""
from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Sequence

from . import options
from .api import DEFAULT_MODEL, Detector
from .capture import ImageSource, StreamOptions, open_source
from .input_shape import Request
from .outputs import describe_written, open_sinks, plan_outputs
from .progress import SourceStatus, StatusLine, StreamsStatus, frame_bar
from .run import Runner, RunResult, WorkItem
from .signals import SignalStop
from .sinks import close_callback


@dataclass
class DetectRun:
    """What ``detect`` did: the run's result, the source's display name, whether the source was still
    images (one frame per image), and one phrase per output file written."""

    summary: RunResult
    name: str
    images: bool
    written: list[str]


def detect(*, source: str, model: str = DEFAULT_MODEL, backend: str = "auto", precision: str = "auto",
           conf: float = 0.25, iou: float = 0.45,
           imgsz: Request = None, classes: Sequence[str] | None = None, max_det: int = 300,
           show: bool = False, save: str | None = None, json_path: str | None = None,
           max_frames: int | None = None, progress: bool = True, track: bool | str = False,
           count_lines: Sequence[tuple[float, float, float, float]] = (),
           stream_options: StreamOptions | None = None, signals: SignalStop | None = None,
           serve: tuple[str, int] | None = None, token: str | None = None) -> DetectRun:
    """Run detection on ``source``.

    track: follow objects across frames (True: ByteTrack; or a name of ``tracking.TRACKERS``); count_lines: segments (x1, y1, x2, y2) in frame pixels
    whose crossings are counted (implies ``track``). ``backend``/``precision``: see
    :func:`rtdetect.inference.create_engine` (auto: measured and accuracy-guarded on the CPU). ``imgsz``: None or N (long side, default 640) for an
    input following the source's aspect ratio, (H, W) for exactly that shape (see ``input_shape``).
    stream_options: timeout, reconnect budget and RTSP transport for stream URLs (whose display name has
    credentials redacted). Every value, the source (file, camera, URL) and the outputs are checked before the
    model is loaded or converted (the source's frame size decides the shape the model is exported at); see
    ``outputs`` for what ``save`` and ``json_path`` accept. ``signals`` (installed by the caller): a stop
    signal while the outputs are open ends the run after the frame in hand, with every output finalised, and
    marks the result interrupted. ``serve`` (host, port): the live view (``rtdetect.sinks.live``), with
    ``token`` (one is generated for a non-loopback host); a file source then plays at its own rate.
    """
    if max_frames is not None:
        options.at_least("--max-frames", max_frames, 1)
    with ExitStack() as stack:
        detector = stack.enter_context(Detector(model, backend=backend, precision=precision, conf=conf, iou=iou,
                                                imgsz=imgsz, classes=classes, max_det=max_det))
        src = stack.enter_context(open_source(source, stream_options=stream_options))
        plan = plan_outputs(src, save=save, json_path=json_path, show=show)
        model = detector.model_for(src.frame_hw)
        stop = stack.enter_context(signals.finishing()) if signals is not None else None
        # Each sink is closed (finalised, or discarded after a failure, see rtdetect.sinks.output) on every
        # exit path, errors and signals included, registered as soon as it is open. A live source's frames
        # may be dropped: its video's rate is measured from the frames written (fps None).
        sinks = []
        for sink in open_sinks(plan, None if src.is_live else src.fps, model.names, stop):
            sinks.append(sink)
            stack.push(close_callback(sink))
        live = _live_sink(serve, token, detector, src) if serve is not None else None
        if live is not None:
            sinks.append(live)
            stack.push(close_callback(live))
        if not sinks:
            print("rtdetect: warning: no --save, --json or --show: detections are counted but nothing is written",
                  file=sys.stderr)
        total = src.frame_count if max_frames is None or src.frame_count is None else min(max_frames, src.frame_count)
        on_frame = None
        if progress and total is not None and not src.is_live:
            bar, on_frame = frame_bar(total)
            stack.callback(bar.close)
        elif progress:  # a live source, or one of unknown length: a status line
            status = StatusLine()
            stack.callback(status.close)
            on_frame = SourceStatus(status, lambda: src.frames_dropped)
        on_frame = _each(on_frame, live.record if live is not None else None)
        runner = Runner(model, track=track, count_lines=count_lines)
        summary = runner.run(src, sinks, max_frames=max_frames, on_frame=on_frame, show_fps=show, stop=stop)
        if signals is not None and signals.signum is not None:
            summary.interrupt()
    return DetectRun(summary, src.name, isinstance(src, ImageSource), describe_written(sinks))


def _live_sink(serve: tuple[str, int], token: str | None, detector: Detector, src):
    """The live view's sink, serving at once; its URL (with the token) is printed on stderr."""
    from .sinks.live import LiveSink

    live = LiveSink(serve, names=detector.names, conf=detector.config.conf, classes=detector.classes,
                    configure=lambda conf, classes: detector.configure(conf=conf, classes=classes),
                    token=token, pace=not src.is_live)
    print(f"rtdetect: live view at {live.url}", file=sys.stderr, flush=True)
    return live


class _StreamsView:
    """The live view of a stream list: one server, each stream a tile (``rtdetect.sinks.live.grid``), started
    at the first stream's first frame (the model's class names are known then)."""

    def __init__(self, serve: tuple[str, int], token: str | None, detector: Detector, streams: list[str]) -> None:
        self.serve, self.token, self.detector, self.streams = serve, token, detector, streams
        self.grid = None

    def tile(self, name: str, names: list[str]):
        if self.grid is None:
            from .sinks.live import LiveSink
            from .sinks.live.grid import LiveGrid

            live = LiveSink(self.serve, names=names, conf=self.detector.config.conf, classes=self.detector.classes,
                            configure=lambda conf, classes: self.detector.configure(conf=conf, classes=classes),
                            token=self.token)
            print(f"rtdetect: live view at {live.url}", file=sys.stderr, flush=True)
            self.grid = LiveGrid(live, self.streams)
        return self.grid.tile(name)

    def record(self, name: str, item: WorkItem) -> None:
        if self.grid is not None:
            self.grid.live.record(item)

    def close(self) -> None:
        if self.grid is not None:
            self.grid.live.close()


def _each(*hooks):
    """One ``on_frame`` hook calling every hook given that is not None, in order (None when none is)."""
    called = [hook for hook in hooks if hook is not None]
    if not called:
        return None

    def on_frame(*args) -> None:
        for hook in called:
            hook(*args)
    return on_frame


def detect_streams(*, source: str, output_dir: str, model: str = DEFAULT_MODEL, backend: str = "auto",
                   precision: str = "auto", conf: float = 0.25, iou: float = 0.45, imgsz: Request = None,
                   classes: Sequence[str] | None = None, max_det: int = 300, save: bool = False,
                   track: bool | str = False, count_lines: Sequence[tuple[float, float, float, float]] = (),
                   max_frames: int | None = None, stream_options: StreamOptions | None = None,
                   signals: SignalStop | None = None, serve: tuple[str, int] | None = None, token: str | None = None,
                   progress: bool = True):
    """Run detection on every source of the stream list ``source`` with ONE engine (``rtdetect.streams``):
    each stream's JSONL (and annotated video with ``save``) under ``output_dir/<name>/``, tracked and counted
    as a single source is (``track``, ``count_lines``). ``serve``: one live view, each stream a tile of it
    (``rtdetect.sinks.live.grid``); ``progress``: a status line per stream on stderr. The list and the output
    folder are checked before the model is loaded.
    Returns the ``BatchedResult`` (one ``RunResult`` per stream)."""
    from .files import check_output_dir
    from .input_shape import shared_frame_hw
    from .streams import StreamOutputs, hold_output_dir, read_stream_list, run_streams

    if max_frames is not None:
        options.at_least("--max-frames", max_frames, 1)
    entries = read_stream_list(source)
    check_output_dir(output_dir)
    outputs = StreamOutputs(os.path.abspath(output_dir), save=save, track=track, count_lines=tuple(count_lines),
                            max_frames=max_frames)
    held = hold_output_dir(outputs.output_dir)
    try:
        with Detector(model, backend=backend, precision=precision, conf=conf, iou=iou, imgsz=imgsz, classes=classes,
                      max_det=max_det, batch=len(entries)) as detector, ExitStack() as stack:
            stop = stack.enter_context(signals.finishing()) if signals is not None else None
            names = [entry.name for entry in entries]
            view = _StreamsView(serve, token, detector, names) if serve is not None else None
            if view is not None:
                stack.callback(view.close)
            streams_status = None
            if progress:
                status = StatusLine()
                stack.callback(status.close)
                streams_status = StreamsStatus(status, names)
            result = run_streams(entries, lambda sizes: detector.model_for(shared_frame_hw(imgsz, sizes)), outputs,
                                 stream_options=stream_options, stop=stop,
                                 on_frame=_each(view.record if view is not None else None, streams_status),
                                 view_for=view.tile if view is not None else None,
                                 log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        held.release()
    result.interrupted = result.interrupted or (signals is not None and signals.signum is not None)
    return result
