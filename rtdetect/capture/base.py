"""What every source is: a context manager that yields ``Frame`` objects and is released in ``finally``."""
from __future__ import annotations

from typing import Iterator

from ..types import Frame


class Source:
    """A frame source. Subclasses implement ``_open``, ``_frames`` and ``_release``.

    Attributes after opening: ``name`` (str), ``fps`` (float or None), ``frame_count`` (int or None when
    unknown or live), ``is_live`` (True: latency first, stale frames dropped; False: every frame in order),
    ``frame_hw`` ((H, W) of the frames, from the first frame or the stream's announced size; None when
    unknown, or when frames may differ in size, as in a folder of images).

    What a run reads of every source when it ends: ``interrupt()`` (a stop: end iteration now, even while a
    read blocks), ``frames_dropped`` (stale frames a live source skipped), ``lost`` (why a live source ended
    on its own, its reconnect budget spent; None otherwise). Files and images drop nothing and are never
    lost; live sources override these.
    """

    is_live = False
    frames_dropped = 0
    lost: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.fps: float | None = None
        self.frame_count: int | None = None
        self.frame_hw: tuple[int, int] | None = None
        self.frames_read = 0
        self.exhausted = False  # True once the source ran to its end (not stopped early)
        self._opened = False

    def __enter__(self) -> "Source":
        self._open()
        self._opened = True
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def interrupt(self) -> None:
        """Stop now (a run's stop): a source whose reads cannot block for long has nothing to do."""

    def close(self) -> None:
        if self._opened:
            self._opened = False
            self._release()

    def __iter__(self) -> Iterator[Frame]:
        if not self._opened:
            raise RuntimeError(f"source {self.name!r} is not open: use it in a `with` block")
        for frame in self._frames():
            self.frames_read += 1
            yield frame
        self.exhausted = True

    @property
    def frames_lost(self) -> int:
        """Frames the container announced but that could not be decoded (0 when unknown or not at the end)."""
        return self.frames_lost_within(None)

    def frames_lost_within(self, limit: int | None) -> int:
        """Like ``frames_lost`` for a run asked to stop after ``limit`` frames (None: no limit): only the
        first ``limit`` announced frames were wanted, so only those can be lost."""
        if self.frame_count is None or self.is_live or not self.exhausted:
            return 0
        wanted = self.frame_count if limit is None else min(limit, self.frame_count)
        return max(0, wanted - self.frames_read)

    def input_files(self) -> list[str]:
        """The files this source reads (outputs must never be one of them); none for cameras and streams."""
        return []

    def _open(self) -> None:
        raise NotImplementedError

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError
