"""What the live view shows, shared between the pipeline's thread (writer) and the server's (readers):
the newest annotated frame as JPEG, the newest JSONL record, running FPS and per-stage latency, settings."""
from __future__ import annotations

import threading

from ...metrics import FpsMeter

SMOOTHING = 0.1  # weight of the newest frame in the per-stage latency averages


class LiveState:
    def __init__(self, names, *, conf: float, classes: list[str] | None) -> None:
        self._lock = threading.Lock()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._record: dict = {"detections": []}
        self._latency_ms: dict[str, float] = {}
        self._meter = FpsMeter()
        self._fps = 0.0
        self._frames = 0
        self.names = list(names)
        self.settings = {"conf": conf, "classes": classes, "paused": False}

    @property
    def paused(self) -> bool:
        return self.settings["paused"]

    def publish(self, jpeg: bytes | None, record: dict) -> None:
        """The newest frame (``jpeg`` None: nobody watches, only the record is kept)."""
        with self._lock:
            if jpeg is not None:
                self._jpeg = jpeg
            self._seq += 1
            self._record = record

    def count(self, timings: dict[str, float]) -> None:
        """One more frame through the pipeline, with its seconds per stage."""
        fps = self._meter.tick()
        with self._lock:
            self._frames += 1
            self._fps = fps
            for name, seconds in timings.items():
                old = self._latency_ms.get(name)
                new = seconds * 1000.0
                self._latency_ms[name] = new if old is None else old + SMOOTHING * (new - old)

    def update(self, settings: dict) -> None:
        with self._lock:
            self.settings = {**self.settings, **settings}

    def latest_jpeg(self) -> tuple[bytes | None, int]:
        with self._lock:
            return self._jpeg, self._seq

    def latest_record(self) -> dict:
        with self._lock:
            return self._record

    def stats(self) -> dict:
        with self._lock:
            return {"frames": self._frames, "fps": round(self._fps, 2),
                    "latency_ms": {k: round(v, 2) for k, v in self._latency_ms.items()},
                    "settings": dict(self.settings), "names": self.names}
