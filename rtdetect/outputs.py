"""What a detection run writes, decided and checked before any model work.

``plan_outputs`` looks at the opened source and the ``--save`` / ``--json`` / ``--show`` values:

- ``--save``: a video file for videos, cameras and streams; for images a folder (``DIR/``: one annotated
  image per input, at its own size, under its path relative to the folder or glob root) or, for a single
  image, an image file (``OUT.jpg``).
- ``--json``: a ``.jsonl`` / ``.ndjson`` file, or ``-`` (or ``/dev/stdout``) to stream the lines to stdout.
- ``--show``: a window, which needs a display that answers.

Every output's folder must exist and accept a file, and no output may be one of the source's files.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

from .capture import ImageSource, Source
from .capture.images import IMAGE_EXTENSIONS
from .errors import OutputError
from .files import is_stdout, probe_writable, refuse_input_as_output
from .sinks import DisplaySink, ImageSink, JsonlSink, VideoSink
from .sinks.output import check_output_path
from .sinks.display import check_display
from .sinks.jsonl import JSONL_EXTENSIONS
from .sinks.video import CODEC_NAMES, CODECS

SAVE_VIDEO, SAVE_IMAGES, SAVE_IMAGE = "video", "images", "image"


@dataclass(frozen=True)
class OutputPlan:
    """The checked outputs: ``save_kind`` is ``video``, ``images`` (a folder) or ``image`` (one file)."""

    save: str | None = None
    save_kind: str | None = None
    json_path: str | None = None
    json_stdout: bool = False
    show: bool = False


def _is_folder(path: str) -> bool:
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def _save_kind(source: Source, save: str) -> str:
    ext = os.path.splitext(save)[1].lower()
    if not isinstance(source, ImageSource):
        if _is_folder(save) or ext not in CODECS:
            raise OutputError(f"--save {save}: a video source is saved as a video file ({', '.join(CODECS)})")
        return SAVE_VIDEO
    if _is_folder(save):
        return SAVE_IMAGES
    if ext in IMAGE_EXTENSIONS:
        if source.frame_count != 1:
            raise OutputError(f"--save {save}: {source.frame_count} images need a folder (--save DIR/)")
        return SAVE_IMAGE
    raise OutputError(f"--save {save}: images are saved as images, into a folder (--save DIR/) or, for a "
                      f"single image, an image file ({', '.join(IMAGE_EXTENSIONS)})")


def _check_image_folder(source: ImageSource, folder: str) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"--save {folder}: exists and is not a folder")
    existing = folder if os.path.isdir(folder) else os.path.dirname(os.path.abspath(folder.rstrip("/" + os.sep)))
    if not os.path.isdir(existing):
        raise OutputError(f"output directory does not exist: {existing}")
    probe_writable(existing)
    for path in source.input_files():
        refuse_input_as_output(os.path.join(folder, source.relative_name(path)), [path], "--save")


def _check_file(path: str, extensions: Sequence[str], inputs: Sequence[str], option: str) -> str:
    path = check_output_path(path, tuple(extensions))
    probe_writable(os.path.dirname(path))
    refuse_input_as_output(path, inputs, option)
    return path


def _check_stdout(json_path: str) -> None:
    """OutputError unless standard output is open (it is None in Python when started with it closed)."""
    try:
        os.fstat(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        raise OutputError(f"--json {json_path}: standard output is closed") from None


def plan_outputs(source: Source, *, save: str | None, json_path: str | None, show: bool) -> OutputPlan:
    """Check the outputs against the opened ``source`` (see the module doc); raises OutputError."""
    inputs = source.input_files()
    kind = None
    if save:
        kind = _save_kind(source, save)
        if kind == SAVE_IMAGES:
            _check_image_folder(source, save)
        else:
            save = _check_file(save, CODECS if kind == SAVE_VIDEO else IMAGE_EXTENSIONS, inputs, "--save")
    stdout = is_stdout(json_path)
    if stdout:
        _check_stdout(json_path)
    if json_path and not stdout:
        if json_path.lower().endswith(".json"):
            raise OutputError(f"--json {json_path}: the output is JSON Lines (one object per frame), so it must "
                              f"end with {' or '.join(JSONL_EXTENSIONS)}; or use --json - for stdout")
        json_path = _check_file(json_path, JSONL_EXTENSIONS, inputs, "--json")
    if show:
        check_display()
    return OutputPlan(save or None, kind, json_path or None, stdout, show)


def open_sinks(plan: OutputPlan, fps: float | None, names: Sequence[str],
               stop: threading.Event | None = None, *, keep_on_failure: bool = True) -> Iterator:
    """The sinks of ``plan``, opened one at a time (a generator: the caller registers each for closing before
    the next may fail to open and lock its file). JSONL first: a write error there stops the run before
    the video gets that frame, and the video, closed first, is checked before the JSONL is finalised.
    ``stop``: the run's stop event, which a line to standard output waiting for its reader honours.
    ``keep_on_failure=False``: the JSONL and video files of a run that failed are removed, not kept."""
    if plan.json_stdout:
        yield JsonlSink(None, names, stream=sys.stdout, stop=stop)
    elif plan.json_path:
        yield JsonlSink(plan.json_path, names, keep_on_failure=keep_on_failure)
    if plan.save_kind == SAVE_VIDEO:
        yield VideoSink(plan.save, fps, keep_on_failure=keep_on_failure)
    elif plan.save_kind is not None:
        yield ImageSink(plan.save, folder=plan.save_kind == SAVE_IMAGES)
    if plan.show:
        yield DisplaySink()


def plural(count: int, noun: str) -> str:
    """``1 frame``, ``2 frames``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_line_counts(line_counts: Sequence[dict]) -> list[str]:
    """One line per counting line: ``line 0,360,1280,360: in 3 person; out 1 car``."""
    def counted(counts: dict) -> str:
        return ", ".join(f"{n} {label}" for label, n in counts.items()) or "none"
    return [f"line {','.join(f'{v:g}' for v in totals['line'])}: in {counted(totals['in'])}; out {counted(totals['out'])}"
            for totals in line_counts]


def describe_written(sinks: Sequence) -> list[str]:
    """One phrase per file output that received something, e.g. ``out.mp4 (50 frames, H.264)``."""
    lines = []
    for sink in sinks:
        if isinstance(sink, VideoSink) and sink.frames:
            codec = CODEC_NAMES.get(sink.codec, sink.codec)
            note = "" if sink.codec != "mp4v" else "; PyAV has no H.264 encoder (libx264) here, so some browsers will not play it"
            lines.append(f"{sink.path} ({plural(sink.frames, 'frame')}, {codec}{note})")
        elif isinstance(sink, ImageSink) and sink.written:
            where = sink.target if sink.folder else sink.written[0]
            lines.append(f"{where} ({plural(len(sink.written), 'annotated image')})")
        elif isinstance(sink, JsonlSink) and sink.lines and sink.path:
            lines.append(f"{sink.path} ({plural(sink.lines, 'line')})")
    return lines
