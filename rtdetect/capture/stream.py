"""Network streams (RTSP, HTTP/MJPEG, RTMP, ...): live, newest frame only, decoded with PyAV (FFmpeg).

PyAV rather than OpenCV because it gives what a live source needs and OpenCV hides: each frame at its
real size (OpenCV rescales every frame to the first one's size), per-open FFmpeg options (transport,
low-latency flags) instead of a process-wide environment variable, and open/read timeouts of our own.

Timeouts: opening, and every read, may take at most ``timeout_s``; a read that times out is a stall and
is handled like a dropped connection. A dropped connection is retried within the ``ReconnectBudget``
(said on stderr, with backoff); when the budget is spent the source ends and ``lost`` says why.
The display name (``name``) has credentials redacted; the real URL goes only to FFmpeg.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import SourceError
from .live import LiveSource
from .reconnect import ReconnectBudget
from .redact import redact_text, redact_url

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
RTSP_TRANSPORTS = ("tcp", "udp")
# Latency first: no demuxer buffering, low-delay decoding, and at most 0.5 s of probing at open.
LOW_LATENCY_OPTIONS = {"fflags": "nobuffer", "flags": "low_delay", "analyzeduration": "500000"}


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_SCHEMES)


@dataclass(frozen=True)
class StreamOptions:
    """``timeout_s``: longest open or read (s); ``reconnect``: budget after a loss; ``rtsp_transport``:
    ``tcp`` (default: no packet loss, what most tools choose) or ``udp``."""

    timeout_s: float = 5.0
    reconnect: ReconnectBudget = field(default_factory=ReconnectBudget)
    rtsp_transport: str = "tcp"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(f"stream timeout must be a number of seconds > 0, got {self.timeout_s}")
        if self.rtsp_transport not in RTSP_TRANSPORTS:
            raise ValueError(f"RTSP transport must be one of {', '.join(RTSP_TRANSPORTS)}, got {self.rtsp_transport!r}")

    def read_timeout_s(self, url: str) -> float:
        """The timeout given to each FFmpeg read. FFmpeg's RTSP demuxer reports an interrupted read only on
        the second one in a row (measured: a stall noticed after 2x the timeout), so RTSP gets half."""
        return self.timeout_s / 2 if url.lower().startswith(("rtsp://", "rtsps://")) else self.timeout_s

    def ffmpeg_options(self, url: str) -> dict[str, str]:
        options = dict(LOW_LATENCY_OPTIONS)
        if url.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = self.rtsp_transport
        return options


def _reason(exc: BaseException) -> str:
    """A one-line reason for an FFmpeg failure, without the URL it was given."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return redact_text(text)


class StreamSource(LiveSource):
    """A stream URL. Fails at open (SourceError) if it cannot be reached at all; once running, a dropped or
    stalled connection is retried within ``options.reconnect``."""

    def __init__(self, url: str, options: StreamOptions | None = None) -> None:
        super().__init__(redact_url(url))
        self._url = url
        self.options = options or StreamOptions()
        self._container = None
        self._decoded = None
        self._reformatter = None

    def _connect(self) -> None:
        """Open the URL and its first video stream; raises SourceError with the (redacted) reason."""
        import av

        timeout = self.options.timeout_s
        try:
            container = av.open(self._url, options=self.options.ffmpeg_options(self._url),
                                timeout=(timeout, self.options.read_timeout_s(self._url)))
        except av.error.ExitError:  # our timeout interrupted FFmpeg
            raise SourceError(f"cannot open stream {self.name}: no answer within {timeout:g} s") from None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise SourceError(f"cannot open stream {self.name}: {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"stream {self.name} has no video")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate and 0 < float(rate) < 1000 else None
        self._container, self._decoded = container, container.decode(stream)
        self._reformatter = av.video.reformatter.VideoReformatter()
        size = (stream.codec_context.height, stream.codec_context.width)
        self.frame_hw = size if min(size) > 0 else None  # announced size; decides the network's input shape

    def _open(self) -> None:
        self._connect()
        self._start_reader()

    def _read(self) -> np.ndarray | None:
        import av

        try:
            return self._bgr(next(self._decoded))
        except StopIteration:
            why = "ended (the server closed it)"
        except av.error.ExitError:
            why = f"stalled (no data for {self.options.timeout_s:g} s)"
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            why = f"dropped ({_reason(exc)})"
        return self._reconnect(why)

    def _bgr(self, frame) -> np.ndarray:
        """A decoded frame as (H, W, 3) uint8 BGR, converted by this connection's own reformatter with no slice
        threads. (``to_ndarray(format=...)`` keeps one per thread, freed at interpreter exit, where FFmpeg's
        slice threads were seen to hang the process for good after a lost stream.)"""
        return self._reformatter.reformat(frame, format="bgr24", threads=1).to_ndarray()

    def _reconnect(self, why: str) -> np.ndarray | None:
        """Reconnect within the budget; the first frame after success, or None (stopped, or ``lost``)."""
        budget, lost_at, attempts = self.options.reconnect, time.monotonic(), 0
        self._close_device()
        while budget.allows(attempts, time.monotonic() - lost_at):
            delay = budget.delay(attempts, time.monotonic() - lost_at)
            of = "" if budget.attempts is None else f"/{budget.attempts}"
            print(f"rtdetect: stream {self.name} {why}; reconnecting in {delay:.1f} s (attempt {attempts + 1}{of})",
                  file=sys.stderr)
            if self._stop.wait(delay):
                return None
            attempts += 1
            try:
                self._connect()
                return self._read_after_reconnect()
            except SourceError as exc:
                why = str(exc).replace(f"cannot open stream {self.name}: ", "reconnection failed: ")
            except _ReadFailed as exc:
                why = str(exc)
            if self._stop.is_set():
                return None
        self.lost = (f"stream {self.name} lost: {why}; gave up after {attempts} reconnection attempt(s) in "
                     f"{time.monotonic() - lost_at:.1f} s (--reconnect {budget.describe()})")
        return None

    def _read_after_reconnect(self) -> np.ndarray:
        import av

        try:
            return self._bgr(next(self._decoded))
        except StopIteration:
            reason = "reconnected but the stream ended at once"
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            reason = f"reconnected but no frame came ({_reason(exc)})"
        self._close_device()
        raise _ReadFailed(reason)

    def _close_device(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container, self._decoded, self._reformatter = None, None, None


class _ReadFailed(Exception):
    """A reconnection opened the stream but could not read a frame from it."""
