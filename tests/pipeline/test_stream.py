"""A real MJPEG-over-HTTP stream (as IP cameras serve) on the loopback interface: the server sends a
fixed number of frames per connection and hangs up, so the source must reconnect to go on."""
import http.server
import threading
import time

import cv2
import numpy as np
import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, StreamSource

FRAMES_PER_CONNECTION = 12


class MjpegHandler(http.server.BaseHTTPRequestHandler):
    jpegs = [cv2.imencode(".jpg", np.full((48, 64, 3), 10 * i, np.uint8))[1].tobytes() for i in range(FRAMES_PER_CONNECTION)]

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
        self.end_headers()
        try:
            for jpeg in self.jpegs:
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away: normal at the end of a test


@pytest.fixture
def mjpeg_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MjpegHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/camera.mjpg"
    server.shutdown()
    server.server_close()


def test_stream_reconnects_with_backoff_and_says_so(mjpeg_url, capsys):
    wanted = 2 * FRAMES_PER_CONNECTION + 3
    with StreamSource(mjpeg_url, StreamOptions(reconnect=ReconnectBudget(attempts=3))) as source:
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == wanted:
                break
    assert len(frames) == wanted and source.is_live
    assert [f.index for f in frames] == sorted(f.index for f in frames)  # newest-first never goes back in time
    assert frames[0].image.shape == (48, 64, 3)
    assert source.frame_hw == (48, 64)  # announced at open: decides the network input's aspect
    assert "reconnecting" in capsys.readouterr().err


def test_stream_ends_after_retries_are_exhausted(mjpeg_url, capsys):
    with StreamSource(mjpeg_url, StreamOptions(reconnect=ReconnectBudget.parse("0"))) as source:
        count = sum(1 for _ in source)
    assert 0 < count <= FRAMES_PER_CONNECTION
    assert "gave up after 0 reconnection attempt(s)" in source.lost and "--reconnect 0" in source.lost
