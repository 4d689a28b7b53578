"""IP cameras for real: GStreamer's RTSP server on 127.0.0.1 (H.264 from vtest frames, basic auth), read
through the library and through the real command: TCP and UDP, stale frames dropped, a restarted server,
a server gone for good, and a password that never appears in anything the run writes."""
import os
import signal
import subprocess
import sys
import time

import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, StreamSource

from live_servers import RtspServer, clip_frames, rtsp_server_missing

from .helpers import make_tiny_detector, wait_for_output

SIZE = (320, 240)
PASSWORD = "S3cretPw"


@pytest.fixture(scope="module")
def frames(data_dir):
    reason = rtsp_server_missing()
    if reason:
        pytest.skip(reason)
    return clip_frames(data_dir / "vtest_3s.mp4", SIZE, count=30)


@pytest.fixture
def server(frames):
    srv = RtspServer(frames, size=SIZE, fps=15)
    yield srv
    srv.kill()


def udp_sockets_of_this_process() -> int:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/udp") as table:
        return sum(1 for line in list(table)[1:] if line.split()[9] in inodes)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_reads_frames_over_tcp_and_udp(server, transport):
    with StreamSource(server.url(), StreamOptions(rtsp_transport=transport, timeout_s=5)) as source:
        got = []
        for frame in source:
            got.append(frame)
            if len(got) == 5:
                udp = udp_sockets_of_this_process()
                break
    assert [f.image.shape for f in got] == [(SIZE[1], SIZE[0], 3)] * 5
    assert source.fps == 15.0 and source.lost is None
    assert (udp > 0) == (transport == "udp"), udp  # RTP/RTCP over UDP sockets only when asked for


def test_rtsp_slow_consumer_gets_fresh_frames(server):
    with StreamSource(server.url()) as source:
        indices = []
        for frame in source:
            indices.append(frame.index)
            time.sleep(0.3)  # a pipeline much slower than the 15 fps stream
            if len(indices) == 6:
                break
    assert source.frames_dropped >= 6
    gaps = [b - a for a, b in zip(indices, indices[1:])]
    assert all(g >= 1 for g in gaps) and sum(gaps) / len(gaps) > 2, indices  # the newest frame, not the next


def test_rtsp_server_restarted_mid_run_frames_flow_again(frames, capsys):
    first = RtspServer(frames, size=SIZE, fps=15)
    port, after = first.port, 0
    options = StreamOptions(timeout_s=2, reconnect=ReconnectBudget.parse("60s"))
    try:
        with StreamSource(first.url(), options) as source:
            for count, _ in enumerate(source, 1):
                if count == 5:
                    first.kill()
                    second = RtspServer(frames, size=SIZE, fps=15, port=port)
                elif count > 5:
                    after += 1
                    if after == 5:
                        break
    finally:
        first.kill()
        if "second" in locals():
            second.kill()
    assert after == 5 and source.lost is None
    assert "reconnecting in" in capsys.readouterr().err


def test_rtsp_stall_is_noticed_within_the_timeout(server):
    options, stopped = StreamOptions(timeout_s=2, reconnect=ReconnectBudget.parse("0")), None
    with StreamSource(server.url(), options) as source:
        for count, _ in enumerate(source, 1):
            if count == 3:
                server.signal(signal.SIGSTOP)  # connection open, nothing arrives
                stopped = time.monotonic()
    assert stopped is not None, source.lost
    waited = time.monotonic() - stopped
    assert "stalled (no data for 2 s)" in source.lost
    assert waited < 3.5, f"stall noticed after {waited:.1f} s"  # FFmpeg's RTSP demuxer alone took 2x the timeout


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(make_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx"))


def test_rtsp_password_never_written_and_lost_server_ends_the_run(frames, tiny_model, tmp_path):
    server = RtspServer(frames, size=SIZE, fps=15, user="admin", password=PASSWORD)
    url = server.url(f"admin:{PASSWORD}")
    shown = f"rtsp://admin:***@127.0.0.1:{server.port}/cam"
    out = tmp_path / "out"
    out.mkdir()
    try:
        wrong = subprocess.run([sys.executable, "-m", "rtdetect.cli", "--source", url.replace(PASSWORD, PASSWORD[::-1]),
                                "--model", tiny_model, "--timeout", "2"], capture_output=True, cwd=out, timeout=120)
    except BaseException:
        server.kill()
        raise
    proc = subprocess.Popen([sys.executable, "-m", "rtdetect.cli", "--source", url, "--model", tiny_model,
                             "--json", out / "det.jsonl", "--save", out / "det.mp4", "--timeout", "2",
                             "--reconnect", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=out)
    try:
        wait_for_output(out, proc)
        time.sleep(1.0)
        server.kill()  # gone for good
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        server.kill()
    assert proc.returncode == 3, stderr
    assert wrong.returncode == 1
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    everything = stdout + stderr + wrong.stdout + wrong.stderr + written
    assert PASSWORD.encode() not in everything and PASSWORD[::-1].encode() not in everything
    assert sorted(p.name for p in out.iterdir()) == ["det.jsonl", "det.mp4"]
    lines = (out / "det.jsonl").read_text().splitlines()
    assert lines and all(f'"source":"{shown}"' in line for line in lines)
    err = stderr.decode()
    assert f"rtdetect: stream {shown} " in err and "reconnecting in 0.5 s (attempt 1/1)" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"rtdetect: error: stream {shown} lost: ") and "--reconnect 1" in last
    assert wrong.stderr.decode().strip() == f"rtdetect: error: cannot open stream {shown}: Server returned 401 Unauthorized (authorization failed)"
