"""`rtdetect bench` on a live RTSP source whose frames carry their send time: capture → detections latency."""
import json

import numpy as np
import pytest

from live_servers import RtspServer, clip_frames, rtsp_server_missing
from rtdetect.bench import run_bench
from rtdetect.bench.stamp import draw_stamp, read_stamp
from rtdetect.capture import StreamOptions

from pipeline.helpers import make_tiny_detector


def test_stamp_round_trip_and_absence():
    image = np.full((48, 400, 3), 90, np.uint8)
    draw_stamp(image, 1_790_000_000.123)
    assert read_stamp(image, 1_790_000_005.0) == pytest.approx(1_790_000_000.123, abs=1e-3)
    assert read_stamp(np.full((48, 400, 3), 90, np.uint8), 1_790_000_005.0) is None
    assert read_stamp(np.zeros((8, 100, 3), np.uint8), 0.0) is None  # too small to carry one
    with pytest.raises(ValueError, match="at least 384x8"):
        draw_stamp(np.zeros((8, 100, 3), np.uint8), 0.0)


def test_bench_measures_capture_to_detections_on_a_stamped_rtsp_stream(data_dir, tmp_path):
    reason = rtsp_server_missing()
    if reason:
        pytest.skip(reason)
    model = make_tiny_detector(tmp_path / "tiny.onnx")
    server = RtspServer(clip_frames(data_dir / "vtest_3s.mp4", (400, 300), count=20), size=(400, 300), fps=15,
                        user="admin", password="S3cretPw", stamp=True)
    try:
        report = run_bench(source=server.url("admin:S3cretPw"), model=str(model), frames=10, warmup=2, sink="none",
                           imgsz=(32, 32), stream_options=StreamOptions(timeout_s=5))
    finally:
        server.kill()
    live = report["configs"][0]["live"]
    ages = live["capture_to_detections_ms"]
    assert ages["count"] == 10  # every counted frame carried its send time through H.264 and back
    assert 0 < ages["p50"] <= ages["p99"] < 5000
    assert live["target_p99_ms"] > 0 and live["meets_target"] in (True, False)
    text = json.dumps(report)
    assert "S3cretPw" not in text and report["settings"]["source"] == f"rtsp://admin:***@127.0.0.1:{server.port}/cam"
