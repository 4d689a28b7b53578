"""The live view: ``rtdetect --source ... --serve [HOST:]PORT`` serves a page with the annotated video,
the current detections, FPS and per-stage latency, and controls (score threshold, class filter, pause).

:class:`LiveSink` is a sink like the others: the pipeline hands it each frame; it keeps only the newest
for the viewers (see ``server``), and with a file source it holds each frame until its time comes, so the
file plays at its own rate. Pause freezes the view (the run goes on, outputs included); the threshold and
the class filter apply to the run itself, ``--save`` and ``--json`` included, from the next frame on.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import cv2

from ...errors import missing_extra
from ..jsonl import frame_record
from .access import is_loopback, parse_bind, token_for
from .gate import Limits
from .state import LiveState

JPEG_QUALITY = 80
MAX_WAIT_S = 1.0  # the longest a file's frame is held (a pts jump never stalls the run)


class LiveSink:
    """``LiveSink((host, port), names=..., configure=...)`` starts serving at once (``url``; OutputError
    when it cannot listen). ``configure(conf, classes)`` (class names or ids, None: all) changes the run's
    thresholds and may raise ValueError/RtdetectError, shown to the viewer. ``pace``: hold each frame until
    its ``pts`` (files). ``limits``: what clients may hold (connections, header time, video streams).
    ``record(item)`` is the pipeline's ``on_frame`` hook: timings and pacing."""

    needs_render = True
    quit_requested = False

    def __init__(self, bind: tuple[str, int], *, names: Sequence[str], configure: Callable[[float, list | None], None],
                 conf: float, classes: Sequence[str] | None = None, token: str | None = None, pace: bool = False,
                 limits: Limits = Limits()) -> None:
        try:
            from .server import LiveServer
        except ImportError as exc:
            raise missing_extra("--serve", exc.name or "aiohttp", "serve") from None
        host, port = bind
        self.names = list(names)
        self.token = token_for(host, token)
        self.public = not is_loopback(host)
        self.state = LiveState(names, conf=conf, classes=list(classes) if classes else None)
        self._configure = configure
        self._pace = pace
        self._clock: float | None = None  # wall time of pts 0 when pacing
        self.server = LiveServer(self.state, host, port, token=self.token, apply_settings=self._apply, limits=limits)
        self.url = self.server.start()

    def _apply(self, settings: dict) -> None:
        if "conf" in settings or "classes" in settings:
            current = self.state.settings
            self._configure(settings.get("conf", current["conf"]), settings.get("classes", current["classes"]))
        self.state.update(settings)

    def write(self, frame, detections, rendered) -> None:
        if self.state.paused:
            return
        jpeg = None
        if self.server.viewers:
            ok, buffer = cv2.imencode(".jpg", rendered, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            jpeg = buffer.tobytes() if ok else None
        self.state.publish(jpeg, frame_record(frame, detections, self.names))
        self.server.notify()

    def record(self, item) -> None:
        """After each frame (the pipeline's ``on_frame``): its stage timings; with ``pace``, wait for its time."""
        self.state.count(item.timings)
        pts = item.frame.pts
        if not self._pace or pts is None:
            return
        now = time.monotonic()
        if self._clock is None:
            self._clock = now - pts
        delay = self._clock + pts - now
        if delay > 0:
            time.sleep(min(delay, MAX_WAIT_S))

    def close(self, *, failed: bool = False) -> None:
        self.server.stop()


__all__ = ["Limits", "LiveSink", "parse_bind"]
