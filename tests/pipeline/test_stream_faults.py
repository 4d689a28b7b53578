"""Live-stream faults against a real MJPEG camera process on 127.0.0.1 (``mjpeg_server.py``): a server that
changes resolution, is stopped with SIGSTOP (a hung stream) or is killed; the real command in a subprocess."""
import contextlib
import json
import re
import signal
import subprocess
import sys
import time

import cv2
import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, StreamSource

from live_servers import MjpegServer

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
