"""Credentials redacted from URLs, the --reconnect budget, and the stream options as the command parses them."""
import pytest

from rtdetect.capture import ReconnectBudget, StreamOptions, open_source, redact_url
from rtdetect.capture.redact import redact_text
from rtdetect.cli import main


@pytest.mark.parametrize("url, shown", [
    ("rtsp://admin:S3cret@10.0.0.5:554/Streaming/Channels/101", "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"),
    ("rtsp://admin:p@ss:w0rd@cam.local/live", "rtsp://admin:***@cam.local/live"),
    ("http://tokenABC@cam.local/video.mjpg", "http://***@cam.local/video.mjpg"),
    ("http://cam/video.cgi?user=admin&password=S3cret&res=hd", "http://cam/video.cgi?user=admin&password=***&res=hd"),
    ("rtsp://cam.local/live", "rtsp://cam.local/live"),
    ("clip.mp4", "clip.mp4"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redact_text_finds_urls_inside_messages():
    text = "Server returned 401 Unauthorized: 'rtsp://admin:S3cret@h/cam' and rtsp://u:pw@h2/x"
    assert redact_text(text) == "Server returned 401 Unauthorized: 'rtsp://admin:***@h/cam' and rtsp://u:***@h2/x"


def test_source_name_is_redacted_but_the_decoder_gets_the_real_url():
    source = open_source("rtsp://admin:S3cret@127.0.0.1:8554/cam")
    assert source.name == "rtsp://admin:***@127.0.0.1:8554/cam"
    assert source._url == "rtsp://admin:S3cret@127.0.0.1:8554/cam"


@pytest.mark.parametrize("text, attempts, seconds", [
    ("5", 5, None), ("0", 0, None), ("30s", None, 30.0), ("2m", None, 120.0), ("1.5h", None, 5400.0),
    ("forever", None, None), (" Forever ", None, None),
])
def test_reconnect_budget_parse(text, attempts, seconds):
    budget = ReconnectBudget.parse(text)
    assert (budget.attempts, budget.seconds) == (attempts, seconds)


@pytest.mark.parametrize("text", ["", "-1", "2.5", "10x", "always", "s"])
def test_reconnect_budget_refuses_nonsense(text):
    with pytest.raises(ValueError, match="--reconnect"):
        ReconnectBudget.parse(text)


def test_reconnect_budget_limits_and_backoff():
    by_count, by_time, forever = ReconnectBudget(attempts=2), ReconnectBudget.parse("3s"), ReconnectBudget.parse("forever")
    assert by_count.allows(1, 1e6) and not by_count.allows(2, 0)
    assert by_time.allows(100, 2.9) and not by_time.allows(0, 3.0)
    assert forever.allows(10**6, 1e9) and forever.describe() == "forever"
    assert [by_count.delay(k, 0) for k in range(6)] == [0.5, 1, 2, 4, 8, 8]
    assert by_time.delay(3, 2.5) == pytest.approx(0.5)  # never waits past the time budget


def test_stream_options_validate_and_map_to_ffmpeg():
    with pytest.raises(ValueError, match="transport"):
        StreamOptions(rtsp_transport="http")
    for timeout in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            StreamOptions(timeout_s=timeout)
    rtsp = StreamOptions(rtsp_transport="udp").ffmpeg_options("rtsp://h/x")
    assert rtsp["rtsp_transport"] == "udp" and rtsp["fflags"] == "nobuffer"
    assert "rtsp_transport" not in StreamOptions().ffmpeg_options("http://h/x.mjpg")


def test_cli_refuses_bad_stream_options_in_one_line(capsys):
    assert main(["--source", "rtsp://h/x", "--reconnect", "sometimes"]) == 1
    assert capsys.readouterr().err.startswith("rtdetect: error: --reconnect takes a number of attempts")


@pytest.mark.parametrize("command", [[], ["bench"]])
@pytest.mark.parametrize("value", ["0", "-2", "inf", "nan", "-inf", "1e400"])
def test_cli_refuses_a_timeout_that_is_not_a_finite_positive_number(command, value, capsys):
    """Was: ``--timeout inf`` (and 1e400, which float() makes inf) accepted: a stall was never noticed."""
    assert main([*command, "--source", "rtsp://h/x", f"--timeout={value}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtdetect: error: --timeout must be a number > 0, got ") and err.count("\n") == 1, err
