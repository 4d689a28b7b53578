"""JSONL of detections: one line per processed frame, flushed as it goes, renamed into place on close;
or streamed to a text stream (standard output) line by line, for pipes.

A line to a stream waits for a slow reader but honours a stop: the run's ``stop`` event, once set, gives
a reader that takes nothing ``STOP_GRACE_S`` more to make room, then the line is abandoned (a reader that
stalled gets no more, and SIGTERM/Ctrl-C end the run as they would without it).

Line schema: ``{"source", "frame", "pts", "detections": [{"box": [x1, y1, x2, y2], "score", "class_id",
"label", "track_id", "mask": {"size": [h, w], "counts": "<COCO RLE>"}}], "counts": [...]}``; boxes in frame
pixels; ``track_id`` only when tracking, ``mask`` only for segmentation models, ``counts`` (running line-crossing
counts, see ``rtdetect.tracking.counting``) only with count lines.

A write error to the file (a full disk, a file-size limit) stops the run with an ``OutputError``; the file is
cut back to its last complete line, so it holds exactly the frames processed before the failure, and it is
kept only where it replaces nothing (see :mod:`rtdetect.sinks.output`), and only with ``keep_on_failure``.
"""
from __future__ import annotations

import json
import os
import select
import threading
import time
from typing import Sequence, TextIO

from ..errors import OutputError
from ..records import to_record
from ..types import Detections, Frame
from .output import OutputFile


def frame_record(frame: Frame, detections: Detections, names: Sequence[str]) -> dict:
    """One JSONL line as a dict: the frame's ``source``, ``frame`` and ``pts``, then ``records.to_record``."""
    return {"source": frame.source, "frame": frame.index, "pts": frame.pts, **to_record(detections, names)}


JSONL_EXTENSIONS = (".jsonl", ".ndjson")
STOP_GRACE_S = 2.0  # after a stop, how long a line still waits for a reader that takes nothing
_POLL_S = 0.05


class JsonlSink:
    """``JsonlSink(path, names)`` writes a file atomically; ``JsonlSink(None, names, stream=sys.stdout)``
    writes each line to ``stream`` as soon as its frame is done, giving up on a line once ``stop`` is set
    and the reader took nothing for ``STOP_GRACE_S``. ``stream`` must have a file descriptor (standard
    output does): the lines go to the descriptor, so none waits in the stream's buffer.
    ``keep_on_failure=False``: a run that failed leaves no file (``rtdetect batch``: complete or absent)."""

    needs_render = False
    quit_requested = False

    def __init__(self, path: str | None, names: Sequence[str], *, stream: TextIO | None = None,
                 stop: threading.Event | None = None, keep_on_failure: bool = True) -> None:
        self._output = None if stream is not None else OutputFile(path, JSONL_EXTENSIONS,
                                                                  keep_on_failure=keep_on_failure)
        self.path = None if self._output is None else self._output.path
        self.names = list(names)
        self._stream = stream
        self._stop = stop
        if stream is not None:
            stream.flush()  # what was printed before goes first; the lines go to its descriptor directly
        self._fd: int | None = None  # opened on the first frame: a run that processes nothing writes nothing
        self._complete_bytes = 0  # file length after the last line written in full
        self._write_error = False
        self._closed = False
        self.lines = 0

    def write(self, frame: Frame, detections: Detections, rendered=None) -> None:
        line = json.dumps(frame_record(frame, detections, self.names), separators=(",", ":")) + "\n"
        if self._stream is None:
            self._write_to_file(line.encode())
        elif not _write_unless_stopped(self._stream.fileno(), line.encode(), self._stop):
            return
        self.lines += 1

    def _write_to_file(self, line: bytes) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(self._output.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            _write_all(self._fd, line)
        except OSError as exc:
            self._write_error = True
            raise OutputError(self._write_failed(exc)) from None
        self._complete_bytes += len(line)

    def _write_failed(self, exc: OSError) -> str:
        """Cut the partial back to its complete lines; the message says what will be kept."""
        if self._fd is not None:
            os.ftruncate(self._fd, self._complete_bytes)
        if os.path.exists(self.path):
            kept = "the existing file is left as it was"
        elif self.lines:
            kept = f"the {self.lines} complete lines written before it are kept"
        else:
            kept = "nothing was written"
        return f"cannot write {self.path}: {exc.strerror or exc}; {kept}"

    def close(self, *, failed: bool = False) -> None:
        """Finalise (see :mod:`rtdetect.sinks.output`); ``failed``: the run ended with an error."""
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.lines:
            self._output.finalise(failed=failed or self._write_error)
        else:
            self._output.discard()


def _write_unless_stopped(fd: int, data: bytes, stop: threading.Event | None) -> bool:
    """Write ``data`` to the pipe, terminal or file ``fd``, waiting while the reader makes no room; False
    when ``stop`` was set and ``STOP_GRACE_S`` passed with bytes still unwritten. A write is made only once
    ``select`` reports room, and at most ``PIPE_BUF`` bytes at a time, which a pipe with room takes without
    blocking."""
    view = memoryview(data)
    given_up_at = None
    while view:
        if stop is not None and stop.is_set():
            given_up_at = given_up_at or time.monotonic() + STOP_GRACE_S
            if time.monotonic() >= given_up_at:
                return False
        _, writable, _ = select.select([], [fd], [], _POLL_S)
        if writable:
            view = view[os.write(fd, view[:select.PIPE_BUF]):]
    return True


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write happens when the disk fills up)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
