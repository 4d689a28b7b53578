"""Real live servers on 127.0.0.1 for the stream tests and the live-latency benchmark, each a separate
process that can be killed, SIGSTOPped and restarted: an MJPEG-over-HTTP camera (``mjpeg_server.py``, this
venv's Python) and GStreamer's RTSP server (``rtsp_server.py``, the system Python with ``gi``;
``install_test_system_deps.sh``, run by ``make test``, installs its Debian packages)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = HERE / "rtsp_server.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rtsp_server_missing() -> str | None:
    """Why GStreamer's RTSP server cannot run here, or None."""
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst; Gst.init(None); "
             "missing = [e for e in ('appsrc', 'videoconvert', 'x264enc', 'rtph264pay') if Gst.ElementFactory.find(e) is None]; "
             "print(' '.join(missing))")
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} not found"
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or done.stdout.strip():
        return ("GStreamer RTSP server not installed (run tools/install_test_system_deps.sh, which `make test` "
                f"runs; it needs apt): {(done.stderr.strip().splitlines() or [done.stdout.strip()])[-1]}")
    return None


class _Process:
    """A server process whose stdout lines are drained by a thread (``lines``)."""

    def __init__(self, argv: list[str], **popen) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, **popen)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.decode().strip())
                self._cond.notify_all()

    def wait_line(self, predicate, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"server said {self.lines[-3:]} (exit {self.proc.poll()})")
                self._cond.wait(left)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(10)


class MjpegServer(_Process):
    """``mjpeg_server.py`` serving ``image`` at ``fps`` with the size schedule ``sizes``; with
    ``per_connection`` it hangs up after that many frames of each connection."""

    def __init__(self, image: Path, *, fps: float = 10.0, sizes: str = "320x240", port: int = 0,
                 per_connection: int | None = None) -> None:
        extra = ["--per-connection", str(per_connection)] if per_connection else []
        super().__init__([sys.executable, str(HERE / "mjpeg_server.py"), "--image", str(image), "--fps", str(fps),
                          "--sizes", sizes, "--port", str(port), *extra])
        self.port = int(self.wait_line(lambda l: l.startswith("port ")).split()[1])

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/camera.mjpg"

    def wait_sent(self, count: int, timeout: float = 60.0) -> None:
        self.wait_line(lambda l: l.startswith("sent ") and int(l.split()[1]) >= count, timeout)


def clip_frames(path: Path, size: tuple[int, int], count: int = 30) -> list[np.ndarray]:
    """Up to ``count`` frames of the video at ``path``, resized to ``size`` (w, h): (h, w, 3) uint8 BGR."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while len(frames) < count and (image := capture.read()[1]) is not None:
        frames.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    capture.release()
    return frames


class RtspServer(_Process):
    """GStreamer's RTSP server at ``rtsp://127.0.0.1:port/cam`` (basic auth when ``user`` is given), fed
    ``frames`` ((h, w, 3) uint8 BGR of ``size``) in a loop at ``fps`` by a thread of this process; with
    ``stamp`` each frame carries its send time (``rtdetect.bench.stamp``)."""

    def __init__(self, frames: list[np.ndarray], *, size=(320, 240), fps: int = 15, port: int | None = None,
                 user: str | None = None, password: str | None = None, stamp: bool = False) -> None:
        self.port = port or free_port()
        argv = [SYSTEM_PYTHON, str(RTSP_SERVER), "--port", str(self.port), "--size", f"{size[0]}x{size[1]}",
                "--fps", str(fps)]
        if user:
            argv += ["--user", user, "--password", password or ""]
        super().__init__(argv, stdin=subprocess.PIPE)
        self.wait_line(lambda l: l == "ready")
        self.frames, self.fps, self.stamp = frames, fps, stamp
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        k, start = 0, time.monotonic()
        try:
            while self.proc.poll() is None:
                self.proc.stdin.write(self._next(k))
                self.proc.stdin.flush()
                k += 1
                time.sleep(max(0.0, start + k / self.fps - time.monotonic()))
        except (BrokenPipeError, OSError, ValueError):
            pass  # the server was killed

    def _next(self, k: int) -> bytes:
        image = self.frames[k % len(self.frames)]
        if self.stamp:
            from rtdetect.bench.stamp import draw_stamp

            image = image.copy()
            draw_stamp(image, time.time())
        return image.tobytes()

    def url(self, userinfo: str = "") -> str:
        return f"rtsp://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/cam"
