"""``rtdetect --source streams.txt --serve``: a stream list's live view, every stream a tile of one picture
(it was refused: the view existed for one source only)."""
import subprocess

import cv2
import numpy as np
import pytest
import requests

from live_servers import RtspServer, clip_frames, rtsp_server_missing
from tests.pipeline.cli_helpers import cli_command, live_view_url


def first_jpeg(url: str) -> np.ndarray:
    """The first picture of the MJPEG stream at ``url``, decoded."""
    with requests.get(url, stream=True, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        data = b""
        for chunk in response.iter_content(65536):
            data += chunk
            start, end = data.find(b"\xff\xd8"), data.find(b"\xff\xd9")
            if start >= 0 and end > start:
                return cv2.imdecode(np.frombuffer(data[start:end + 2], np.uint8), cv2.IMREAD_COLOR)
    raise AssertionError("no picture in the stream")


def test_stream_list_serves_one_view_with_a_tile_per_stream(small_detector, data_dir, tmp_path):
    reason = rtsp_server_missing()
    if reason:
        pytest.skip(reason)
    server = RtspServer(clip_frames(data_dir / "vtest_3s.mp4", (320, 240), count=30), size=(320, 240), fps=15)
    try:
        listing = tmp_path / "streams.txt"
        listing.write_text(f"{server.url()}\n{data_dir / 'vtest_3s.mp4'}\n")
        (tmp_path / "out").mkdir()
        process = subprocess.Popen(cli_command("--source", listing, "--output-dir", tmp_path / "out", "--model",
                                               small_detector, "--backend", "onnxruntime", "--serve", "127.0.0.1:0",
                                               "--max-frames", "150", "--track", "--no-progress"),
                                   stderr=subprocess.PIPE, text=True)
        url = live_view_url(process)
        assert url, "no live view"
        stats = requests.get(url + "api/stats", timeout=30).json()
        assert stats["names"] == ["Normal", "Fall"]
        picture = first_jpeg(url + "video")
        assert picture.shape == (360, 2 * 640, 3)  # two streams: two 640x360 tiles side by side
        process.terminate()  # the live stream would run to --max-frames: a stop finalises every output
        rest = process.stderr.read()
        assert process.wait(timeout=120) in (0, 143), rest
        assert "Traceback" not in rest
        assert (tmp_path / "out" / "vtest_3s" / "detections.jsonl").stat().st_size > 0
    finally:
        server.kill()
