"""``--json -`` against a hostile standard output, through the real command: a reader that stops reading
(the pipe full, every write blocked) no longer keeps SIGTERM from ending the run, and a standard output
closed at start is one error line."""
import fcntl
import json
import os
import signal
import subprocess
import termios
import time

import pytest

from .cli_helpers import assert_one_line_error, cli_command, run_cli

PIPE_SIZE = 8192  # two pages: a writer that waits for room stalls past the first one, a blocking one at the end


def _pending_bytes(read_end: int) -> int:
    return int.from_bytes(fcntl.ioctl(read_end, termios.FIONREAD, b"\0\0\0\0"), "little")


def _wait_until_stalled(read_end: int, proc) -> None:
    """Until the pipe holds more than a page and has stopped filling (the run's writes wait for room)."""
    deadline, before = time.monotonic() + 240, -1
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the run never filled the pipe"
        now = _pending_bytes(read_end)
        if now > PIPE_SIZE // 2 and now == before:
            return
        before = now
        time.sleep(1.0)


def test_sigterm_ends_a_run_whose_stdout_reader_stalled(small_detector, data_dir, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(200):  # far more lines than the pipe holds
        os.link(data_dir / "bus.jpg", folder / f"{k:03d}.jpg")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    proc = subprocess.Popen(cli_command("--source", folder, "--model", small_detector, "--json", "-",
                                        "--no-progress"), stdout=write_end, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_stalled(read_end, proc)  # the reader takes nothing: the run's next line waits
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("SIGTERM did not end a run blocked on a full standard output")
        stderr = proc.stderr.read()
        assert status == 128 + signal.SIGTERM, stderr
        assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr, stderr
        lines = os.read(read_end, _pending_bytes(read_end)).decode().splitlines()
        assert lines and all(json.loads(line)["detections"] for line in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        os.close(read_end)
        os.close(write_end)


def test_json_to_a_closed_stdout_is_one_line(small_detector, data_dir):
    result = run_cli("--source", data_dir / "bus.jpg", "--model", small_detector, "--json", "-",
                     preexec_fn=lambda: os.close(1))
    assert_one_line_error(result, "--json -: standard output is closed")


@pytest.mark.parametrize("progress", [True, False], ids=["progress", "no-progress"])
def test_a_closed_stderr_loses_the_messages_not_the_run(small_detector, data_dir, progress):
    """Started with standard error closed (``2>&-``): the run still does its work and exits 0, and nothing
    meant for stderr lands in stdout's stream (it did: the summary went into ``--json -``'s lines, and with
    the progress bar the run ended with status 1 having written nothing)."""
    args = ["--source", data_dir / "vtest_3s.mp4", "--model", small_detector, "--backend", "onnxruntime",
            "--max-frames", "3", "--json", "-"] + ([] if progress else ["--no-progress"])
    result = subprocess.run(cli_command(*args), stdout=subprocess.PIPE, text=True, timeout=300,
                            preexec_fn=lambda: os.close(2))
    assert result.returncode == 0
    assert [json.loads(line)["frame"] for line in result.stdout.splitlines()] == [0, 1, 2]
