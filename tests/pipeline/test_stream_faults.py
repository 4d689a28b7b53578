"""Live-stream faults against a real MJPEG camera process on 127.0.0.1 (``mjpeg_server.py``): a server that
changes resolution, is stopped with SIGSTOP (a hung stream) or is killed; the real command in a subprocess."""
import contextlib
import http.server
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, StreamSource
from rtdetect.sinks.live.mjpeg import CONTENT_TYPE, mjpeg_part

from live_servers import MjpegServer

from .cli_helpers import assert_one_line_error, run_cli
from .helpers import make_tiny_detector, wait_for_output

EXIT_SOURCE_LOST = 3


@pytest.fixture(scope="module")
def onnx_model(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 1x1-conv 'detector' on 32x32 inputs: frames take microseconds, so timings are the capture's own."""
    return str(make_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx"))


def start_cli(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "rtdetect.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def wait_until_idle(folder, quiet_s=2.0, timeout=120.0):
    """Until nothing in ``folder`` has grown for ``quiet_s`` (the frames in flight are written)."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        sizes = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
        if sizes != last:
            last, since = sizes, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)
    raise AssertionError("the run never went idle")


def jsonl_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_resolution_change_keeps_boxes_in_each_frames_pixels(onnx_model, data_dir, tmp_path):
    # The size alternates every second: whenever the model is ready, the frames processed see both sizes.
    server = MjpegServer(data_dir / "zidane.jpg", fps=10, sizes="640x480:10,320x240:10")
    try:
        done = subprocess.run([sys.executable, "-m", "rtdetect.cli", "--source", server.url(), "--model", onnx_model,
                               "--imgsz", "320", "--max-frames", "12", "--json", tmp_path / "out.jsonl",
                               "--save", tmp_path / "out.mp4"], capture_output=True, text=True, timeout=300)
    finally:
        server.kill()
    assert done.returncode == 0, done.stderr
    changes = [(int(at), new) for new, at in re.findall(r"frame size changed from \w+ to (\w+) at frame (\d+);",
                                                         done.stderr)]
    assert changes and {new for _, new in changes} <= {"640x480", "320x240"}, done.stderr
    size_of = lambda index: ([new for at, new in changes if at <= index] or ["640x480"])[-1]  # noqa: E731
    lines = jsonl_lines(tmp_path / "out.jsonl")
    big = [l for l in lines if size_of(l["frame"]) == "640x480" and l["detections"]]
    small = [l for l in lines if size_of(l["frame"]) == "320x240" and l["detections"]]
    assert big and small, [l["frame"] for l in lines]
    best = lambda line: max(line["detections"], key=lambda d: d["score"])["box"]  # noqa: E731
    # The same picture at half the size: boxes at half the coordinates (OpenCV gave the 640x480 ones).
    for a, b in zip(best(big[0]), best(small[-1])):
        assert abs(a / 2 - b) < 6, (best(big[0]), best(small[-1]))
    assert all(0 <= v <= 320 for d in small[-1]["detections"] for v in d["box"])
    video = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    size = (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps, count = video.get(cv2.CAP_PROP_FPS), video.get(cv2.CAP_PROP_FRAME_COUNT)
    video.release()
    first = tuple(float(v) for v in size_of(lines[0]["frame"]).split("x"))
    assert size == first and count == len(lines)  # one video at the first frame's size, every frame (letterboxed)
    # The rate is the measured rate of the frames written (first second of their arrival times), not FFmpeg's
    # made-up 25 fps for MJPEG.
    times = [l["pts"] for l in lines]
    n = next((k + 1 for k in range(len(times)) if times[k] - times[0] >= 1.0), len(times))
    assert fps == pytest.approx((n - 1) / (times[n - 1] - times[0]), rel=0.05)


@contextlib.contextmanager
def hung_stream_run(tiny_model, data_dir, tmp_path, *, timeout: str, reconnect: str):
    """The command reading a 10 fps MJPEG camera into out.jsonl; once its first line is written the camera
    hangs (SIGSTOP: the connection stays open, nothing arrives). Yields the command's process."""
    server = MjpegServer(data_dir / "bus.jpg", fps=10, sizes="320x240")
    proc = start_cli("--source", server.url(), "--model", tiny_model, "--timeout", timeout,
                     "--reconnect", reconnect, "--json", tmp_path / "out.jsonl", cwd=tmp_path)
    try:
        wait_for_output(tmp_path, proc)
        server.signal(signal.SIGSTOP)
        yield proc
    finally:
        proc.kill()
        server.kill()


def timed_end(proc, timeout: float) -> tuple[str, float]:
    """(stderr, seconds) until ``proc`` exits."""
    started = time.monotonic()
    _, err = proc.communicate(timeout=timeout)
    return err, time.monotonic() - started


def test_hung_stream_ctrl_c_acts_at_once(tiny_model, data_dir, tmp_path):
    with hung_stream_run(tiny_model, data_dir, tmp_path, timeout="60", reconnect="forever") as proc:
        wait_until_idle(tmp_path, quiet_s=1.0)  # frames in flight are done: only capture is left, blocked in a read
        proc.send_signal(signal.SIGINT)
        err, waited = timed_end(proc, timeout=30)
    assert proc.returncode == 130, err
    assert waited < 3.0, f"Ctrl-C took {waited:.1f} s"  # was: ignored until FFmpeg's 30 s timeout, then reconnects
    assert jsonl_lines(tmp_path / "out.jsonl")  # finalised, every frame processed before the stop
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_stall_is_noticed_within_the_timeout_and_the_budget_ends_the_run(tiny_model, data_dir, tmp_path):
    with hung_stream_run(tiny_model, data_dir, tmp_path, timeout="1", reconnect="1") as proc:
        err, waited = timed_end(proc, timeout=60)
    # stall (1 s read timeout) + 0.5 s backoff + one connection attempt that times out (1 s): well under
    # FFmpeg's own 30 s per read and per attempt
    assert waited < 8.0, f"the run took {waited:.1f} s to notice the stall and give up"
    assert proc.returncode == EXIT_SOURCE_LOST, err
    assert "stalled (no data for 1 s); reconnecting in 0.5 s (attempt 1/1)" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("rtdetect: error: stream http://127.0.0.1:") and "lost" in last and "--reconnect 1" in last
    assert jsonl_lines(tmp_path / "out.jsonl")


def test_killed_server_ends_the_source_when_the_budget_is_spent(data_dir):
    server = MjpegServer(data_dir / "bus.jpg", fps=20, sizes="160x120")
    options = StreamOptions(timeout_s=2, reconnect=ReconnectBudget.parse("2"))
    frames = 0
    with StreamSource(server.url(), options) as source:
        for _ in source:
            frames += 1
            if frames == 3:
                server.kill()
                killed = time.monotonic()
    assert source.lost and "gave up after 2 reconnection attempt(s)" in source.lost
    assert time.monotonic() - killed < 8.0  # 0.5 + 1 s of backoff, refused connections fail at once


SECRETS = ("S3cretPw", "T0kenV4lue")


class DroppingCamera:
    """An MJPEG camera on 127.0.0.1 (a thread of this process) whose first connection gets ``frames`` frames
    then is closed; every later request gets 404: a camera that drops, then refuses each reconnection."""

    def __init__(self, jpeg: bytes, frames: int) -> None:
        served = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if served:
                    self.send_error(404)
                    return
                served.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.end_headers()
                for _ in range(frames):
                    self.wfile.write(mjpeg_part(jpeg))
                    self.wfile.flush()
                    time.sleep(0.05)
                self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, userinfo: str, query: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.server.server_address[1]}/cam.mjpg?{query}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


def test_ffmpeg_failure_reasons_are_said_without_the_password(tiny_model, data_dir, tmp_path):
    """PyAV quotes the URL it was given, password included, in ``str(exc)``: every reason built from an FFmpeg
    failure (open, drop, reconnection) must be said with the secrets redacted, and still say why. The run
    must also end: it was seen to hang for good at exit after a lost stream (PyAV's per-thread converter freed
    at interpreter exit, blocked in FFmpeg's slice threads)."""
    userinfo, query = f"admin:{SECRETS[0]}", f"token={SECRETS[1]}&res=hd"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    refused = run_cli("--source", f"rtsp://{userinfo}@127.0.0.1:{closed}/cam?{query}", "--model", tiny_model,
                      "--json", tmp_path / "refused.jsonl", "--timeout", "5")
    assert_no_secret(refused.stdout, refused.stderr)
    assert_one_line_error(refused, "cannot open stream rtsp://admin:***@127.0.0.1:", "Connection refused")
    camera = DroppingCamera(cv2.imencode(".jpg", cv2.imread(str(data_dir / "bus.jpg")))[1].tobytes(), frames=5)
    try:
        dropped = run_cli("--source", camera.url(userinfo, query), "--model", tiny_model, "--json",
                          tmp_path / "dropped.jsonl", "--timeout", "5", "--reconnect", "2", "--no-progress")
    finally:
        camera.close()
    lines = (tmp_path / "dropped.jsonl").read_text()
    assert_no_secret(dropped.stdout, dropped.stderr, lines)
    assert dropped.returncode == EXIT_SOURCE_LOST, dropped.stderr
    assert "reconnection failed: Server returned 404 Not Found" in dropped.stderr
    assert lines and json.loads(lines.splitlines()[0])["source"].startswith("http://admin:***@127.0.0.1:")
