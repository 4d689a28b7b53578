"""Annotated video file: the source's size and frame rate, written atomically (renamed into place on close).

Codec: H.264 (plays in browsers) for .mp4/.m4v/.mov, encoded by PyAV's libx264 (in its wheels; preset
``veryfast``: 7 ms a 768x576 frame measured on a 2-core machine, where OpenCV's ``mp4v`` takes 2), and MPEG-4
Part 2 (``mp4v``, through OpenCV) only where that encoder is missing; MJPG for .avi/.mkv. ``VideoSink.codec``
says which one was used. FFmpeg's writers need even sizes (OpenCV would cut an odd last column or row), so an
odd-sized frame is padded by repeating its last column/row: every source pixel is kept. A frame of another
size than the first (a stream that changed resolution) is scaled to fit the first size, aspect kept, centred
on black bars.

OpenCV's writer reports no write error (a full disk goes unnoticed until the file is unreadable), and the
H.264 encoder holds frames back, so on close the finished file is checked before it may replace anything: it
must open, announce exactly the frames written and decode its last one (the container's index, e.g. the mp4
moov atom, is written last). A file that fails is removed and reported with an ``OutputError``; see
:mod:`rtdetect.sinks.output`.
"""
from __future__ import annotations

import os
from fractions import Fraction

import av
import cv2
import numpy as np

from ..errors import OutputError
from ..files import opencv_path
from ..preprocess import letterbox_params
from ..types import Frame
from .output import OutputFile

H264 = "h264"  # encoded by PyAV's libx264; the other codecs are OpenCV fourccs
CODECS = {".mp4": (H264, "mp4v"), ".m4v": (H264, "mp4v"), ".mov": (H264, "mp4v"), ".avi": ("MJPG",),
          ".mkv": ("MJPG",)}  # preferred codec first
CODEC_NAMES = {H264: "H.264", "mp4v": "MPEG-4 Part 2 (mp4v)", "MJPG": "Motion JPEG"}
H264_OPTIONS = {"preset": "veryfast"}  # x264's default quality (crf 23); "veryfast" keeps the encode cheap
# Live sources: no lookahead and no B-frames, so each frame is encoded as it comes, in even slices of time,
# instead of in bursts that hold up the thread writing the sinks (benchmarks/README.md, *One run loop*).
H264_LIVE_OPTIONS = {**H264_OPTIONS, "tune": "zerolatency"}
DEFAULT_FPS = 30.0
# Without a known rate, the rate is measured from the first frames' timestamps: frames are held back until
# they span this long (or this many are held), then the writer opens at the measured rate.
MEASURE_SPAN_S = 1.0
MEASURE_MAX_FRAMES = 30


def even_size(width: int, height: int) -> tuple[int, int]:
    """The writer's frame size for a ``width`` x ``height`` picture: rounded up to even numbers."""
    return width + width % 2, height + height % 2


def fit_into(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, 3) uint8 scaled to fit ``size`` (width, height), aspect kept, centred on black."""
    width, height = size
    box, (new_h, new_w) = letterbox_params(image.shape[:2], (height, width))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = int(box.pad_y), int(box.pad_x)
    canvas[top:top + new_h, left:left + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return canvas


class H264Writer:
    """Writes BGR frames (H, W, 3) uint8 of one even ``size`` (width, height) as H.264 (yuv420p) at ``fps``
    into ``path`` through PyAV; the container follows the extension. ``write`` and ``release`` mirror
    ``cv2.VideoWriter``'s, but raise ``OSError`` on a write error (FFmpeg's, e.g. a full disk). ``live``:
    encode each frame as it comes (``H264_LIVE_OPTIONS``), for the latency-first runs of live sources."""

    def __init__(self, path: str, fps: float, size: tuple[int, int], *, live: bool = False) -> None:
        self._container = av.open(path, mode="w")
        try:
            self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                                      options=H264_LIVE_OPTIONS if live else H264_OPTIONS)
            self._stream.width, self._stream.height = size
            self._stream.pix_fmt = "yuv420p"
        except BaseException:
            self._container.close()
            raise

    def write(self, image: np.ndarray) -> None:
        self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))

    def release(self) -> None:
        """Flush the frames the encoder holds and write the container's index; the file is closed even when
        that fails (the error is raised)."""
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()


def h264_available() -> bool:
    """Whether PyAV's FFmpeg has the libx264 encoder (its wheels do; a build against a system FFmpeg may not)."""
    return "libx264" in av.codecs_available


def measured_rate(times: list[float]) -> float | None:
    """Frames per second from the timestamps (s) of consecutive frames, or None when they cannot tell."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


class VideoSink:
    """Opens its writer on the first frame (its size, made even, fixes the video's); a later frame of
    another size (a stream that changed resolution) is scaled to fit, aspect kept, on black bars (its
    detections in the JSONL stay in its own pixels). ``fps`` None (live sources, whose frames may be
    dropped) means: measure the rate of the frames written from their ``pts``, so the video plays in real
    time; frames without a clock get 30 fps. ``keep_on_failure=False``: a run that failed leaves no file
    (``rtdetect batch``: complete or absent)."""

    needs_render = True
    quit_requested = False

    def __init__(self, path: str, fps: float | None, *, keep_on_failure: bool = True) -> None:
        self._output = OutputFile(path, tuple(CODECS), keep_on_failure=keep_on_failure)
        self.path = self._output.path
        self.fps = float(fps) if fps and fps > 0 else None
        self._live = self.fps is None  # a live source's rate is measured: latency first, its encoder too
        self._writer: H264Writer | cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.codec: str | None = None  # a key of CODEC_NAMES, once the first frame opened the writer
        self._held: list[tuple[float | None, np.ndarray]] = []
        self.frames = 0
        self._write_error = False

    def _open(self, width: int, height: int) -> None:
        for fourcc in CODECS[os.path.splitext(self.path)[1].lower()]:
            writer = self._new_writer(fourcc, (width, height))
            if writer is not None:
                self._writer, self._size, self.codec = writer, (width, height), fourcc
                return
        raise OutputError(f"cannot open a video writer for {self.path} ({width}x{height})")

    def _new_writer(self, codec: str, size: tuple[int, int]) -> H264Writer | cv2.VideoWriter | None:
        """A writer of ``codec`` (a key of CODEC_NAMES) into the partial, or None where it is not available."""
        if codec == H264:
            if not h264_available():
                return None
            try:
                return H264Writer(self._output.partial, self.fps, size, live=self._live)
            except OSError as exc:
                raise OutputError(f"cannot open a video writer for {self.path}: {exc.strerror or exc}") from None
        writer = cv2.VideoWriter(opencv_path(self._output.partial), cv2.VideoWriter_fourcc(*codec), self.fps, size)
        if writer.isOpened():
            return writer
        writer.release()
        return None

    def _append(self, rendered: np.ndarray) -> None:
        h, w = rendered.shape[:2]
        if self._writer is None:
            self._open(*even_size(w, h))
        if (w, h) != self._size and even_size(w, h) == self._size:
            rendered = cv2.copyMakeBorder(rendered, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        elif (w, h) != self._size:
            rendered = fit_into(rendered, self._size)
        try:
            self._writer.write(rendered)
        except OSError as exc:
            self._write_error = True
            kept = "the existing file is left as it was" if os.path.exists(self.path) else "nothing was kept"
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}; {kept}") from None
        self.frames += 1

    def _release_held(self, final: bool) -> None:
        """Write the held frames once their rate is known (or, ``final``, with what is known)."""
        times = [t for t, _ in self._held if t is not None]
        complete = len(times) < len(self._held) or len(self._held) >= MEASURE_MAX_FRAMES or \
            (times and times[-1] - times[0] >= MEASURE_SPAN_S)
        if not (final or complete):
            return
        self.fps = measured_rate(times) or DEFAULT_FPS
        held, self._held = self._held, []
        for _, image in held:
            self._append(image)

    def write(self, frame: Frame, detections, rendered: np.ndarray) -> None:
        if self.fps is None:
            self._held.append((frame.pts, rendered.copy()))
            self._release_held(final=False)
        else:
            self._append(rendered)

    def close(self, *, failed: bool = False) -> None:
        """Finalise (see the module docstring); ``failed``: the run ended with an error, so the video is kept
        only if it is complete and :meth:`OutputFile.keeps` it. Raises OutputError for an unreadable video
        unless the run had failed already (its error is the one to report)."""
        if self._output is None:
            return
        keep = self._output.keeps(failed=failed) and not self._write_error
        if self._held and keep:
            self._release_held(final=True)
        output, self._output = self._output, None
        writer, self._writer = self._writer, None
        problem = None
        if writer is not None:
            try:
                writer.release()
            except OSError as exc:
                problem = f"the video could not be finished: {exc.strerror or exc}"
        if writer is None or not keep:
            output.discard()
            return
        problem = problem or check_video(output.partial, self.frames)
        if problem is None:
            output.finalise(failed=failed)
            return
        output.discard()
        if not failed:
            kept = "the existing file is left as it was" if os.path.exists(self.path) else "nothing was kept"
            raise OutputError(f"cannot finalise {self.path}: {problem} (is the disk full?); {kept}")


def check_video(path: str, frames: int) -> str | None:
    """None when the video at ``path`` opens, announces ``frames`` frames and decodes its last one;
    otherwise what is wrong. Costs an open, a seek and one decoded frame, not a pass over the file."""
    capture = cv2.VideoCapture(opencv_path(path))
    try:
        if not capture.isOpened():
            return "the written video cannot be opened"
        announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if announced != frames:
            return f"the written video holds {announced} of {frames} frames"
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
        if not capture.read()[0]:
            return "the last frame of the written video cannot be decoded"
        return None
    finally:
        capture.release()
