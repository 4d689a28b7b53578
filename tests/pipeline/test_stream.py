"""A real MJPEG-over-HTTP stream (as IP cameras serve) on the loopback interface: the server sends a
fixed number of frames per connection and hangs up, so the source must reconnect to go on."""
import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, StreamSource

from live_servers import MjpegServer

FRAMES_PER_CONNECTION = 12


@pytest.fixture
def mjpeg_url(data_dir):
    server = MjpegServer(data_dir / "bus.jpg", fps=100, sizes="64x48", per_connection=FRAMES_PER_CONNECTION)
    yield server.url()
    server.kill()


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
