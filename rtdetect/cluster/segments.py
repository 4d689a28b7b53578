"""Long videos cut into time segments processed in parallel, and their JSONL parts joined in order.

A segment is the frames ``[start, stop)`` of a file (``stop`` None: to the end). ``SegmentSource`` seeks
with OpenCV (to the keyframe before ``start``, then decodes forward to it) and gives each frame the index
and pts the whole file's run gives it, so the joined JSONL is byte for byte the single run's. Where OpenCV
cannot land exactly on ``start`` it decodes from the beginning and drops the frames before it (slower,
still exact). The last segment always runs to the end of the file, so frames beyond the container's
announced count are not lost.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Iterator

import cv2

from ..atomic import atomic_path
from ..capture.convert import to_bgr8
from ..capture.video import VideoFileSource
from ..files import opencv_path
from ..types import Frame
from .manifest import DONE, FAILED, INTERRUPTED


@dataclass(frozen=True)
class Segment:
    """Part ``part`` of ``parts`` of a file: frames ``[start, stop)``; its JSONL goes to ``jsonl_name``
    (hidden, beside the file's JSONL, relative to the output folder)."""

    part: int
    parts: int
    start: int
    stop: int | None
    jsonl_name: str


def probe(path: str) -> tuple[int | None, float | None]:
    """(frame count, fps) a video file announces, None where unknown."""
    capture = cv2.VideoCapture(opencv_path(path))
    try:
        count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return (count if count > 0 else None), (fps if 0 < fps < 1000 else None)


def plan_segments(path: str, jsonl_name: str, seconds: float) -> list[Segment]:
    """The segments of ``seconds`` each for the video at ``path`` (one whole-file segment when it is not
    longer, or its length is unknown)."""
    count, fps = probe(path)
    length = max(1, round(seconds * fps)) if fps else None
    if count is None or length is None or count <= length:
        return []
    starts = list(range(0, count, length))
    folder, name = os.path.split(jsonl_name)
    stem = os.path.splitext(name)[0]
    return [Segment(k, len(starts), start, starts[k + 1] if k + 1 < len(starts) else None,
                    os.path.join(folder, f".{stem}.segment-{k:05d}.jsonl").replace(os.sep, "/"))
            for k, start in enumerate(starts)]


def join_parts(output_dir: str, segments: list[Segment], jsonl_name: str) -> None:
    """Concatenate the segments' JSONL files, in order, into ``jsonl_name`` (atomically); remove the parts."""
    with atomic_path(os.path.join(output_dir, jsonl_name)) as tmp, open(tmp, "wb") as joined:
        for segment in segments:
            part = os.path.join(output_dir, segment.jsonl_name)
            if os.path.exists(part):  # a segment with no frame writes nothing
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, joined)
        joined.flush()
        os.fsync(joined.fileno())
    remove_parts(output_dir, segments)


def remove_parts(output_dir: str, segments: list[Segment]) -> None:
    for segment in segments:
        try:
            os.unlink(os.path.join(output_dir, segment.jsonl_name))
        except FileNotFoundError:
            pass


class SegmentSource(VideoFileSource):
    """The frames ``[start, stop)`` of a video file, with their whole-file indices and pts."""

    def __init__(self, path: str, start: int, stop: int | None) -> None:
        super().__init__(path)
        self.start, self.stop = start, stop

    def _open(self) -> None:
        super()._open()  # checks the file, reads fps, the announced count and the first frame
        if self.start > 0:
            self._first = self._seek()
        if self.frame_count is not None:
            end = self.frame_count if self.stop is None else min(self.stop, self.frame_count)
            self.frame_count = max(0, end - self.start)

    def _seek(self):
        """The frame at ``start`` (None past the end), with the capture placed after it."""
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, self.start)
        if int(self._capture.get(cv2.CAP_PROP_POS_FRAMES)) != self.start:
            self._capture.release()
            self._capture = cv2.VideoCapture(opencv_path(self.path))
            for _ in range(self.start):
                self._capture.grab()
        ok, image = self._capture.read()
        return image if ok else None

    def _frames(self) -> Iterator[Frame]:
        image, index = self._first, self.start
        self._first = None
        while image is not None and (self.stop is None or index < self.stop):
            yield Frame(to_bgr8(image), index, self.frame_time(index), self.name)
            index += 1
            ok, image = self._capture.read()
            if not ok:
                image = None


def joined_entry(output_dir: str, jsonl_name: str, segments: list[Segment], entries: list[dict]) -> dict:
    """The manifest entry of a split file from its segments' entries (in segment order): its JSONL joined
    when every segment is done, else the parts removed and the file failed (or interrupted)."""
    statuses = {entry["status"] for entry in entries}
    seconds = sum(entry.get("seconds", 0.0) for entry in entries)
    frames = sum(entry["frames"] for entry in entries)
    entry = {"frames": frames, "fps": round(frames / seconds, 2) if seconds else 0.0, "seconds": round(seconds, 3),
             "detections": sum(entry.get("detections", 0) for entry in entries),
             "frames_lost": sum(entry.get("frames_lost", 0) for entry in entries),
             "attempts": max(entry["attempts"] for entry in entries), "segments": len(segments), "error": None}
    if statuses == {DONE} and frames:
        join_parts(output_dir, segments, jsonl_name)
        path = os.path.join(output_dir, jsonl_name)
        return {**entry, "status": DONE, "outputs": {jsonl_name: os.path.getsize(path)}}
    if statuses == {DONE}:  # no frame at all: like a whole-file run, no JSONL
        remove_parts(output_dir, segments)
        return {**entry, "status": DONE, "outputs": {}}
    remove_parts(output_dir, segments)
    status = FAILED if FAILED in statuses else INTERRUPTED
    part, error = next((k, e["error"]) for k, e in enumerate(entries) if e["status"] == status)
    return {**entry, "status": status, "error": f"segment {part + 1} of {len(segments)}: {error}", "outputs": {}}
