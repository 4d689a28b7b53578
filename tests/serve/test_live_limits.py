"""The live view under hostile clients: connections that never finish their request (slowloris) are bounded
per client address and in all, dropped when their headers are late, and never cost the run its file
descriptors. Raw sockets on loopback; 127.0.0.0/8 gives each simulated client an address of its own."""
import http.client
import json
import re
import resource
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from rtdetect.sinks.live import Limits, LiveSink
from rtdetect.types import Detections, Frame
from tests.pipeline.cli_helpers import cli_command
from tests.serve.clips import long_clip

NAMES = ["person", "car"]
HALF_A_REQUEST = b"GET /api/stats HTTP/1.1\r\nHo"


def stall(port: int, source: str) -> socket.socket:
    """A connection from ``source`` that sends half a request and then nothing (non-blocking from then on)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    try:
        sock.sendall(HALF_A_REQUEST)
    except ConnectionError:  # refused by the server before the bytes went out: closed all the same
        pass
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed (or reset) the non-blocking ``sock``, without waiting."""
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:  # nothing to read: still open
        return False
    except ConnectionError:
        return True


def wait_until(predicate, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def get_stats(conn: http.client.HTTPConnection, query: str = "") -> dict:
    conn.request("GET", "/api/stats" + query)
    response = conn.getresponse()
    assert response.status == 200
    return json.loads(response.read())


@pytest.fixture
def open_sockets():
    sockets = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_connections_beyond_the_caps_are_closed_at_once(open_sockets):
    """9 stalled connections from one address: the 5 it may hold stay (their header time is long here), 4
    are closed at once; a second address likewise; with the total cap reached, a third address gets one
    place and a client already in is still served."""
    limits = Limits(header_timeout_s=600.0, max_connections=12, max_per_client=5)
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25, limits=limits)
    port = sink.server.port
    try:
        def attack(source: str, count: int, held: int) -> list[socket.socket]:
            sockets = [stall(port, source) for _ in range(count)]
            open_sockets.extend(sockets)
            wait_until(lambda: sum(map(closed_by_server, sockets)) >= count - held,
                       what=f"{count - held} of {source}'s connections to be closed")
            assert sum(map(closed_by_server, sockets)) == count - held
            return sockets

        first = attack("127.0.0.2", 9, held=5)
        attack("127.0.0.3", 9, held=5)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.4", 0))
        assert get_stats(client)["connections"] == 11  # 10 stalled and this one
        attack("127.0.0.5", 9, held=1)  # 12 in all
        assert get_stats(client)["connections"] == 12  # on its kept-alive connection
        refused = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.6", 0))
        with pytest.raises(ConnectionError):
            get_stats(refused)
        for sock in first:  # places free again as connections go
            sock.close()
        fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.6", 0))
        assert wait_until(lambda: _served(fresh), what="a new client to be served") == 200
        client.close()
        fresh.close()
    finally:
        sink.close()


def _served(conn: http.client.HTTPConnection) -> int | None:
    try:
        conn.request("GET", "/api/stats")
        response = conn.getresponse()
        response.read()
        return response.status
    except ConnectionError:
        conn.close()
        return None


def test_late_headers_are_dropped_and_a_long_stream_is_not(open_sockets):
    """Header time 1 s: a stalled client and one that trickles its request a byte at a time (it would take
    15 s) are both dropped; a video viewer whose stream lasts longer than that keeps its stream."""
    sink = LiveSink(("127.0.0.1", 0), names=NAMES, configure=lambda c, k: None, conf=0.25,
                    limits=Limits(header_timeout_s=1.0))
    port = sink.server.port
    stop = threading.Event()
    writer = threading.Thread(target=_feed, args=(sink, stop), daemon=True)
    writer.start()
    try:
        stalled = stall(port, "127.0.0.2")
        open_sockets.append(stalled)
        trickle = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=("127.0.0.3", 0))
        open_sockets.append(trickle)
        request = b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\n\r\n"
        sent = 0
        with pytest.raises(ConnectionError):  # the server drops it before the request is whole
            for byte in request:
                trickle.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.25)
        assert sent < len(request)
        wait_until(lambda: closed_by_server(stalled), what="the stalled client to be dropped")

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/video")
        video = conn.getresponse()
        assert video.status == 200
        start, parts = time.monotonic(), 0
        while time.monotonic() - start < 3.0:  # three header times and more: still streaming
            parts += video.read1(65536).count(b"--frame")
        assert parts >= 2
        conn.close()
    finally:
        stop.set()
        writer.join(10)
        sink.close()


def _feed(sink: LiveSink, stop: threading.Event) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    index = 0
    while not stop.is_set():
        sink.write(Frame(image, index, None, "black"), Detections.empty(), image)
        index += 1
        time.sleep(0.02)


FD_LIMIT = 256  # the run's descriptor limit: fewer than the stalled connections below
STALLED = 300   # from 3 addresses: each is over the per-client cap, together they stay under the total


def _lower_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def test_slowloris_never_exhausts_the_run(small_detector, data_dir, tmp_path, open_sockets):
    """The real command with 256 descriptors, serving a 30 s clip (it plays at its own rate) while 300
    connections send half a request and stall: a normal client is still served, every stalled one is
    dropped, and the run ends with exit 0, every frame in its JSONL, and no traceback."""
    clip, lines = long_clip(data_dir, tmp_path / "clip.mp4", repeats=10), tmp_path / "out.jsonl"
    process = subprocess.Popen(cli_command("--source", clip, "--model", small_detector, "--backend", "onnxruntime",
                                           "--serve", "127.0.0.1:0", "--json", lines, "--no-progress"),
                               stderr=subprocess.PIPE, text=True, preexec_fn=_lower_fd_limit)
    try:
        port = None
        for line in process.stderr:
            if match := re.search(r"live view at http://127\.0\.0\.1:(\d+)/", line):
                port = int(match.group(1))
                break
        assert port, "no live view URL on stderr"
        for index in range(STALLED):
            open_sockets.append(stall(port, f"127.0.0.{2 + index % 3}"))
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        assert get_stats(client)["connections"] <= 3 * Limits.max_per_client + 1
        client.close()
        wait_until(lambda: all(map(closed_by_server, open_sockets)), timeout=120,
                   what="every stalled connection to be dropped")
        again = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        assert get_stats(again)["frames"] > 0  # the run is still going, and serving
        again.close()
    finally:
        rest = process.stderr.read()
        status = process.wait(timeout=300)
    assert status == 0, rest
    assert "Traceback" not in rest and "Too many open files" not in rest, rest[-3000:]
    assert "300 frames" in rest
    assert len(lines.read_text().splitlines()) == 300
