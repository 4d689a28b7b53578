"""Process CPU use and peak resident memory over a measured interval.

CPU use is process CPU time (user + system, all threads) divided by wall time, so 2.0 means two cores
busy. Peak RSS is sampled by a background thread with psutil when it is installed (the peak of this
interval); without psutil it falls back to ``resource.getrusage`` (the peak of the whole process).
"""
from __future__ import annotations

import os
import threading
import time

SAMPLE_S = 0.01


def _rss_reader():
    """A function returning the current RSS in bytes, or None when psutil is not installed."""
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    return lambda: process.memory_info().rss


def lifetime_peak_rss() -> int | None:
    """Peak RSS of this process since it started, in bytes (None where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) so far."""
    times = os.times()
    return times.user + times.system


class PeakRss:
    """Context manager sampling RSS every ``SAMPLE_S`` seconds; ``peak`` (bytes) and ``method`` after exit."""

    def __init__(self) -> None:
        self.peak: int | None = None
        self.method = "psutil sampling every 10 ms"
        self._read = _rss_reader()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak or 0, self._read())
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> "PeakRss":
        if self._read is None:
            self.method = "getrusage ru_maxrss (process lifetime peak; psutil not installed)"
        else:
            self.peak = self._read()
            self._thread = threading.Thread(target=self._sample, name="rtdetect:bench-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak or 0, self._read())
        else:
            self.peak = lifetime_peak_rss()


class CpuWindow:
    """CPU time and wall time between ``start()`` and ``stop()``; ``cores_used`` = cpu / wall."""

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0
        self._cpu0 = self._wall0 = None

    def start(self) -> None:
        self._cpu0, self._wall0 = cpu_seconds(), time.perf_counter()

    def stop(self) -> None:
        if self._cpu0 is None:
            return
        self.cpu, self.wall = cpu_seconds() - self._cpu0, time.perf_counter() - self._wall0

    @property
    def cores_used(self) -> float | None:
        return self.cpu / self.wall if self.wall > 0 else None
