"""Issue 27 item 7: stream lists and live sources showed nothing while they ran. A status line now says
frames, FPS and stale frames dropped (per stream), in place on a terminal and as plain lines in a log."""
import io
import re

from rtdetect.progress import StatusLine, StreamsStatus
from tests.pipeline.cli_helpers import run_cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_refreshes_in_place_on_a_terminal_and_writes_lines_to_a_log():
    now = [0.0]
    terminal, log = Terminal(), io.StringIO()
    on_terminal, in_log = StatusLine(terminal, clock=lambda: now[0]), StatusLine(log, clock=lambda: now[0])
    for step in range(60):  # 30 s, a frame every half second
        now[0] = step * 0.5
        on_terminal.update(f"frame {step}")
        in_log.update(f"frame {step}")
    on_terminal.close()
    in_log.close()
    assert terminal.getvalue().count("\r") == 60 and terminal.getvalue().endswith("frame 59\n")
    assert log.getvalue().splitlines() == ["frame 0", "frame 20", "frame 40"]  # every 10 s, no carriage return


def test_streams_status_names_every_stream():
    log = io.StringIO()
    status = StreamsStatus(StatusLine(log), ["cam1", "cam2"])
    status("cam2", None)
    assert log.getvalue() == "rtdetect: cam1 0 (0.0 FPS) | cam2 1 (0.0 FPS)\n"


def test_a_stream_list_run_shows_its_status(small_detector, data_dir, tmp_path):
    listing = tmp_path / "streams.txt"
    listing.write_text(f"{data_dir / 'vtest_3s.mp4'}\n")
    result = run_cli("--source", listing, "--output-dir", tmp_path / "out", "--model", small_detector,
                     "--backend", "onnxruntime", "--max-frames", "3")
    assert result.returncode == 0, result.stderr
    assert "rtdetect: vtest_3s 1 (" in result.stderr
    quiet = run_cli("--source", listing, "--output-dir", tmp_path / "quiet", "--model", small_detector,
                    "--backend", "onnxruntime", "--max-frames", "3", "--no-progress")
    assert "FPS) " not in quiet.stderr and "vtest_3s 1 (" not in quiet.stderr


def test_live_source_status_counts_frames_and_stale_drops():
    from rtdetect.progress import SourceStatus

    log = io.StringIO()
    dropped = [0]
    status = SourceStatus(StatusLine(log), lambda: dropped[0])
    status(None)
    assert log.getvalue() == "rtdetect: 1 frames, 0.0 FPS\n"
    dropped[0] = 4
    status.line._last = -float("inf")  # the next line is due
    status(None)
    assert re.fullmatch(r"rtdetect: 2 frames, [\d.]+ FPS, 4 stale dropped", log.getvalue().splitlines()[-1])
