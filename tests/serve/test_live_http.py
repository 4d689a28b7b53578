"""The live view at the HTTP level: a real LiveSink serving real requests while frames are written to it
(from a thread, as the pipeline does), on 127.0.0.1 with an ephemeral port."""
import http.client
import socket
import threading
import time

import numpy as np
import pytest
import requests

from rtdetect.errors import ModelError, UsageError
from rtdetect.run import WorkItem
from rtdetect.sinks.live import Limits, LiveSink, parse_bind, server
from rtdetect.types import Detections, Frame

NAMES = ["person", "car"]


class Feeder:
    """Writes frames of changing noise (with one detection) into ``sink`` until stopped; counts them."""

    def __init__(self, sink: LiveSink, hw=(480, 640)) -> None:
        self.sink, self.hw, self.written, self.slowest = sink, hw, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        detections = Detections(np.array([[10, 20, 110, 220]], np.float32), np.array([0.8], np.float32),
                                np.array([0], np.int32))
        while not self._stop.is_set():
            image = rng.integers(0, 255, (*self.hw, 3), dtype=np.uint8)
            frame = Frame(image, self.written, None, "noise")
            start = time.perf_counter()
            self.sink.write(frame, detections, image)
            self.sink.record(WorkItem(frame, {"inference": 0.01}))
            self.slowest = max(self.slowest, time.perf_counter() - start)
            self.written += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def live():
    """A sink on loopback without a token, fed with frames; ``configure`` calls are recorded."""
    calls = []

    def configure(conf, classes):
        if classes and "boat" in classes:
            raise ModelError("--classes: the model has no class named 'boat'")
        calls.append((conf, classes))

    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=configure, conf=0.25)
    feeder = Feeder(sink)
    sink.calls = calls
    yield sink
    feeder.stop()
    sink.close()


def _port(sink) -> int:
    return sink.server.port


def raw_get(port: int, path: str, headers=None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read(200_000) if response.status != 200 or "multipart" not in response.getheader("Content-Type", "") else b""
    conn.close()
    return response.status, body


def test_bind_defaults_to_loopback():
    assert parse_bind("8080") == ("127.0.0.1", 8080)
    assert parse_bind("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("http://x:80", "host:", "70000", "a:b", ""):
        with pytest.raises(UsageError, match="--serve"):
            parse_bind(bad)


def test_page_stats_detections_and_video(live):
    base = live.url
    page = requests.get(base, timeout=10)
    assert page.status_code == 200 and "static/app.js" in page.text
    assert requests.get(base + "static/app.js", timeout=10).status_code == 200
    time.sleep(0.5)
    stats = requests.get(base + "api/stats", timeout=10).json()
    assert stats["frames"] > 0 and stats["fps"] > 0 and "inference" in stats["latency_ms"]
    record = requests.get(base + "api/detections", timeout=10).json()
    assert record["detections"][0]["label"] == "person" and record["source"] == "noise"
    with requests.get(base + "video", stream=True, timeout=10) as video:
        assert video.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        chunk = next(video.iter_content(4096))
        assert chunk.startswith(b"--frame\r\nContent-Type: image/jpeg")


def test_settings_apply_and_bad_values_get_400(live):
    url = live.url + "api/settings"
    ok = requests.post(url, params={"conf": "0.6", "classes": "person"}, headers={"X-Rtdetect": "1"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["settings"]["conf"] == 0.6 and live.calls == [(0.6, ["person"])]
    for params in ({"conf": "abc"}, {"conf": "1.5"}, {"conf": "nan"}, {"conf": "-0.1"}, {"paused": "maybe"},
                   {"bogus": "1"}, {"classes": "boat"}):
        bad = requests.post(url, params=params, headers={"X-Rtdetect": "1"}, timeout=10)
        assert bad.status_code == 400, params
        assert "error" in bad.json() and "Traceback" not in bad.text
    assert live.calls == [(0.6, ["person"])]  # no bad value reached the run
    # a foreign page cannot send the header without a CORS preflight; without it the POST is refused
    assert requests.post(url, params={"conf": "0.1"}, timeout=10).status_code == 403


def test_pause_freezes_the_view(live):
    url = live.url
    time.sleep(0.3)
    requests.post(url + "api/settings", params={"paused": "1"}, headers={"X-Rtdetect": "1"}, timeout=10)
    frame = requests.get(url + "api/detections", timeout=10).json()["frame"]
    time.sleep(0.5)
    assert requests.get(url + "api/detections", timeout=10).json()["frame"] == frame
    requests.post(url + "api/settings", params={"paused": "0"}, headers={"X-Rtdetect": "1"}, timeout=10)
    time.sleep(0.5)
    assert requests.get(url + "api/detections", timeout=10).json()["frame"] > frame


@pytest.mark.parametrize("path", ["/static/../../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
                                  "/static/%2e%2e/server.py", "/static/server.py", "/static/__init__.py",
                                  "/../../etc/passwd", "/static//etc/passwd", "/static/index.html/..",
                                  "/static/.", "/etc/passwd"])
def test_nothing_outside_the_page_assets(live, path):
    status, body = raw_get(_port(live), path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"import" not in body


def test_host_header_must_be_loopback_without_token(live):
    status, _ = raw_get(_port(live), "/api/stats", {"Host": "attacker.example:80"})
    assert status == 403
    assert raw_get(_port(live), "/api/stats", {"Host": f"localhost:{_port(live)}"})[0] == 200


def test_token_checked_on_every_request_including_the_video():
    """Every request for the run's data needs the token; the page's own files hold none and need none (a
    browser fetches the stylesheet and the script without the page's query: with the token required there,
    a token-protected live view never loaded in a browser)."""
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25, token="s3cret-token")
    feeder = Feeder(sink)
    try:
        base = f"http://127.0.0.1:{_port(sink)}/"
        for path in ("", "static/app.js", "static/style.css"):
            assert requests.get(base + path, timeout=10).status_code == 200, path
        for path in ("api/stats", "api/detections", "video"):
            assert requests.get(base + path, timeout=10).status_code == 401, path
            assert requests.get(base + path, params={"token": "wrong-token"}, timeout=10).status_code == 401
        assert requests.post(base + "api/settings", params={"conf": "0.5"}, timeout=10).status_code == 401
        assert requests.get(base + "api/stats", params={"token": "s3cret-token"}, timeout=10).status_code == 200
        assert requests.get(base + "api/stats", headers={"Authorization": "Bearer s3cret-token"},
                            timeout=10).status_code == 200
        with requests.get(base + "video", params={"token": "s3cret-token"}, stream=True, timeout=10) as video:
            assert video.status_code == 200 and next(video.iter_content(64)).startswith(b"--frame")
    finally:
        feeder.stop()
        sink.close()


def test_a_public_bind_generates_a_token():
    sink = LiveSink(("0.0.0.0", 0), names=NAMES, configure=lambda c, k: None, conf=0.25)
    try:
        assert sink.token and len(sink.token) >= 16 and f"?token={sink.token}" in sink.url
        base = f"http://127.0.0.1:{_port(sink)}/"
        assert requests.get(base + "api/stats", timeout=10).status_code == 401
        assert requests.get(base + "api/stats", params={"token": sink.token}, timeout=10).status_code == 200
    finally:
        sink.close()


def open_video(port: int, source: str = "127.0.0.1", headers=None, method: str = "GET", path: str = "/video"):
    """``method path`` from the loopback address ``source`` (127.0.0.0/8: another client for the server):
    (connection, response)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    conn.request(method, path, headers=headers or {})
    return conn, conn.getresponse()


def _stream_reader(port: int, source: str, frames: list, stop: threading.Event) -> None:
    conn, video = open_video(port, source)
    try:
        while not stop.is_set():
            if b"--frame" in video.read1(65536):
                frames.append(time.monotonic())
    finally:
        conn.close()


def test_a_stalled_viewer_never_slows_the_pipeline(monkeypatch):
    """A viewer that stops reading (its socket buffers full) is dropped after WRITE_TIMEOUT_S; meanwhile the
    writer goes on at full speed and a healthy viewer keeps getting new frames."""
    monkeypatch.setattr(server, "WRITE_TIMEOUT_S", 1.0)
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25)
    feeder = Feeder(sink, hw=(1080, 1920))  # noise JPEGs of ~2 MB fill any socket buffer at once
    stalled = socket.create_connection(("127.0.0.1", _port(sink)))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /video HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # ... and never read
    healthy, stop = [], threading.Event()
    reader = threading.Thread(target=_stream_reader, args=(_port(sink), "127.0.0.1", healthy, stop), daemon=True)
    reader.start()
    try:
        time.sleep(1.0)
        written = feeder.written
        time.sleep(3.0)
        assert sink.server.viewers == 1, "the stalled viewer was not dropped"
        # the writer never waited for the stalled viewer: no write took the viewer's write timeout, and it
        # went on writing (how many frames depends on the machine's load: encoding 1080p noise is slow)
        assert feeder.slowest < server.WRITE_TIMEOUT_S
        assert feeder.written - written >= 3
        assert len([t for t in healthy if t > time.monotonic() - 2.0]) >= 2  # still receiving
    finally:
        stop.set()
        stalled.close()
        feeder.stop()
        sink.close()
        reader.join(10)


def test_viewers_are_bounded_and_the_server_stops_with_the_run():
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25,
                    limits=Limits(max_viewers=2))
    feeder = Feeder(sink)
    # Two viewers (two clients) that keep reading (a viewer that stops reading is dropped as stalled, which
    # frees a place).
    frames, stops = [[], []], [threading.Event(), threading.Event()]
    readers = [threading.Thread(target=_stream_reader, args=(_port(sink), source, got, stop), daemon=True)
               for got, stop, source in zip(frames, stops, ("127.0.0.2", "127.0.0.3"))]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 10
        while not all(frames) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(frames), "both viewers receive frames"
        for _ in range(5):
            with requests.get(sink.url + "video", stream=True, timeout=10) as refused:  # never a body to wait for
                assert refused.status_code == 503
        assert requests.get(sink.url + "api/stats", timeout=10).json()["viewers"] == 2
        stops[0].set()
        readers[0].join(10)
        deadline = time.monotonic() + 10
        while sink.server.viewers > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        with requests.get(sink.url + "video", stream=True, timeout=10) as again:
            assert again.status_code == 200
    finally:
        feeder.stop()
        start = time.monotonic()
        sink.close()  # with a viewer still streaming
        assert time.monotonic() - start < 5
        for stop in stops:
            stop.set()
        for reader in readers:
            reader.join(10)
    assert not [t for t in threading.enumerate() if t.name == "rtdetect:serve"]
    with pytest.raises(requests.ConnectionError):
        requests.get(sink.url + "api/stats", timeout=5)


def test_a_file_plays_at_its_own_rate():
    """With ``pace`` (file sources) each frame is held until its pts: 11 frames 0.1 s apart take >= 1 s."""
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25, pace=True)
    try:
        image = np.zeros((48, 64, 3), np.uint8)
        start = time.monotonic()
        for index in range(11):
            frame = Frame(image, index, index / 10, "clip")
            sink.write(frame, Detections.empty(), image)
            sink.record(WorkItem(frame, {}))
        assert time.monotonic() - start >= 0.95
    finally:
        sink.close()


def test_settings_take_the_token_the_page_sends():
    """With a token (every non-loopback bind) the page sends it in each request's query, the settings POST
    included: the token is access, not a setting."""
    calls = []
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda conf, classes: calls.append((conf, classes)),
                    conf=0.25, token="s3cret-token")
    try:
        url = f"http://127.0.0.1:{_port(sink)}/api/settings"
        ok = requests.post(url, params={"conf": "0.6", "paused": "1", "token": "s3cret-token"},
                           headers={"X-Rtdetect": "1"}, timeout=10)
        assert ok.status_code == 200, ok.text
        assert ok.json()["settings"] == {"conf": 0.6, "classes": None, "paused": True}
        assert calls == [(0.6, None)]
        bad = requests.post(url, params={"bogus": "1", "token": "s3cret-token"}, headers={"X-Rtdetect": "1"}, timeout=10)
        assert bad.status_code == 400 and "bogus" in bad.json()["error"]
    finally:
        sink.close()


def test_head_video_gets_headers_only(live):
    sock = socket.create_connection(("127.0.0.1", _port(live)), timeout=30)
    try:
        sock.sendall(b"HEAD /video HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while len(received) < 1_000_000 and (chunk := sock.recv(65536)):  # until the server closes
            received += chunk
    finally:
        sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"multipart/x-mixed-replace" in head
    assert body == b""
    assert requests.get(live.url + "api/stats", timeout=10).json()["viewers"] == 0  # it took no place


def _video_status(port: int, source: str = "127.0.0.1", headers=None, path: str = "/video") -> tuple[int, object]:
    conn, response = open_video(port, source, headers, path=path)
    if response.status != 200:
        response.read()
        conn.close()
        return response.status, None
    return response.status, conn


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image",
     "Referer": "https://evil.example/"},
    {"Sec-Fetch-Site": "same-site"},  # another port of this host is another page
    {"Referer": "https://evil.example/page"},  # a browser without Sec-Fetch-*
    {"Origin": "null"},
])
def test_another_sites_page_gets_no_video_without_a_token(live, headers):
    assert _video_status(_port(live), headers=headers)[0] == 403
    assert requests.get(live.url + "api/stats", timeout=10).json()["viewers"] == 0


def test_one_client_cannot_take_every_video_slot(live):
    """The page's own requests (same-origin, or no Sec-Fetch-Site: a player) get a stream, at most 2 per
    client address of the 4; another client still gets one."""
    port, opened = _port(live), []
    own = {"Sec-Fetch-Site": "same-origin", "Referer": f"http://127.0.0.1:{port}/"}
    try:
        for headers in (own, {}):
            status, conn = _video_status(port, headers=headers)
            assert status == 200
            opened.append(conn)
        assert _video_status(port, headers=own)[0] == 503  # a third from the same client
        status, conn = _video_status(port, source="127.0.0.2")
        assert status == 200
        opened.append(conn)
        assert requests.get(live.url + "api/stats", timeout=10).json()["viewers"] == 3
    finally:
        for conn in opened:
            conn.close()


def test_with_a_token_a_foreign_page_needs_it_for_the_video():
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25, token="s3cret-token")
    try:
        foreign = {"Sec-Fetch-Site": "cross-site", "Referer": "https://dashboard.example/"}
        assert _video_status(_port(sink), headers=foreign)[0] == 401
        status, conn = _video_status(_port(sink), headers=foreign, path="/video?token=s3cret-token")
        assert status == 200  # a page the token was given to may embed the video
        conn.close()
    finally:
        sink.close()


def raw_status(port: int, request: bytes) -> int:
    """The status the server answers ``request`` (raw bytes, any header) with, on a connection it closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(request)
        received = b""
        while b"\r\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
    finally:
        sock.close()
    return int(received.split(b" ", 2)[1])


def _request(path: str, *headers: bytes) -> bytes:
    return b"\r\n".join([f"GET {path} HTTP/1.1".encode(), *headers, b"Connection: close", b"", b""])


@pytest.mark.parametrize("host", [b"127.0.0.1:99999", b"127.0.0.1:abc", b"[::1]:99999", b"[::1",
                                  b"\xff\xfe", b"127.0.0.1:\xd9\xa1"])  # the last: an Arabic-Indic digit
@pytest.mark.parametrize("path", ["/api/stats", "/video"])
def test_a_malformed_host_header_is_a_bad_request(live, host, path):
    assert raw_status(_port(live), _request(path, b"Host: " + host)) == 400
    assert raw_status(_port(live), _request(path, b"Host: LOCALHOST")) == 200  # host names ignore case


def test_a_foreign_page_with_a_malformed_referer_gets_no_video(live):
    request = _request("/video", b"Host: 127.0.0.1", b"Referer: http://[::1/page")
    assert raw_status(_port(live), request) == 403


def test_with_a_token_undecodable_credentials_are_refused_and_a_bad_host_is_a_bad_request():
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25, token="s3cret-token")
    try:
        port = _port(sink)
        for credentials in (b"\xff\xfe", b"s3cret-t\xc3\xa9ken", b"s3cret-token\xff"):
            request = _request("/api/stats", b"Host: 127.0.0.1", b"Authorization: Bearer " + credentials)
            assert raw_status(port, request) == 401, credentials
        bearer = b"Authorization: Bearer s3cret-token"
        assert raw_status(port, _request("/api/stats", b"Host: 127.0.0.1:abc", bearer)) == 400
        assert raw_status(port, _request("/api/stats", b"Host: 127.0.0.1", bearer)) == 200
    finally:
        sink.close()
