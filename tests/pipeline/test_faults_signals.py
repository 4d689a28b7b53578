"""Stop signals and concurrent runs against the real command: SIGTERM/SIGHUP finalise like Ctrl-C, a
repeated signal still ends cleanly, partials of a SIGKILLed run are cleaned up, and a second run writing
the same outputs is refused while the first holds them."""
import glob
import json
import os
import signal
import subprocess
import time

import pytest

from .cli_helpers import assert_one_line_error, cli_command, run_cli
from .helpers import decoded_frame_count, leftovers


@pytest.fixture(scope="module")
def onnx_model(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def start_run(onnx_model, data_dir, out_dir):
    """The CLI on the 30-frame clip with --save and --json, started once it has written its first line
    and opened its video (the sinks write one after the other: the JSONL line can come first)."""
    args = ["--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save", out_dir / "out.mp4",
            "--json", out_dir / "out.jsonl", "--no-progress"]
    proc = subprocess.Popen(cli_command(*args), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (any(os.path.getsize(p) for p in glob.glob(str(out_dir / ".out.partial-*.jsonl")))
               and glob.glob(str(out_dir / ".out.partial-*.mp4"))):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended or hung before writing a line: {proc.communicate()[1]}")
        time.sleep(0.02)
    return proc


def finish(proc):
    return proc.returncode, proc.communicate(timeout=240)[1]


def assert_complete_outputs(out_dir):
    """Outputs renamed into place, the video playable with one frame per JSONL line, nothing hidden left."""
    lines = [json.loads(line) for line in (out_dir / "out.jsonl").read_text().splitlines()]
    assert 1 <= len(lines) < 30
    assert decoded_frame_count(out_dir / "out.mp4") == len(lines)
    assert leftovers(out_dir) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_finalise_like_ctrl_c(onnx_model, data_dir, tmp_path, signum):
    proc = start_run(onnx_model, data_dir, tmp_path)
    proc.send_signal(signum)
    proc.wait(timeout=240)
    status, stderr = finish(proc)
    assert status == 128 + signum, stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    assert_complete_outputs(tmp_path)


def test_repeated_signals_still_end_cleanly(onnx_model, data_dir, tmp_path):
    """A second and third signal used to abandon the stage threads inside ONNX Runtime while the engine was
    freed: SIGABRT, "terminate called without an active exception", nothing finalised."""
    proc = start_run(onnx_model, data_dir, tmp_path)
    for signum, pause in ((signal.SIGINT, 0.01), (signal.SIGINT, 0.05), (signal.SIGTERM, 0.0)):
        proc.send_signal(signum)
        time.sleep(pause)
    proc.wait(timeout=240)
    status, stderr = finish(proc)
    assert status == 130, stderr  # the first signal decides
    assert "terminate called" not in stderr and "Traceback" not in stderr
    assert "already stopping" in stderr
    assert_complete_outputs(tmp_path)


def test_sigkill_partials_are_named_by_pid_and_removed_by_the_next_run(onnx_model, data_dir, tmp_path):
    proc = start_run(onnx_model, data_dir, tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    proc.communicate()
    left = leftovers(tmp_path)
    assert any(name.startswith(f".out.partial-{proc.pid}-") and name.endswith(".jsonl") for name in left), left
    assert any(name.startswith(f".out.partial-{proc.pid}-") and name.endswith(".mp4") for name in left), left
    result = run_cli("--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save", tmp_path / "out.mp4",
                     "--json", tmp_path / "out.jsonl", "--max-frames", 2, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == []
    assert decoded_frame_count(tmp_path / "out.mp4") == len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_second_run_on_the_same_outputs_is_refused(onnx_model, data_dir, tmp_path):
    first = start_run(onnx_model, data_dir, tmp_path)
    first.send_signal(signal.SIGSTOP)  # holds its outputs, frozen, while the second run starts
    try:
        second = run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, "--json", tmp_path / "out.jsonl")
    finally:
        first.send_signal(signal.SIGCONT)
    assert_one_line_error(second, f"another rtdetect run (PID {first.pid})")
    first.send_signal(signal.SIGINT)
    first.wait(timeout=240)
    status, stderr = finish(first)
    assert status == 130, stderr
    assert_complete_outputs(tmp_path)
