"""The conversion cache after faults: a refused checkpoint leaves no lock file, and a conversion killed
with SIGKILL leaves a PID-named partial that the next use of the cache removes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import onnx
import pytest
import torch

from rtdetect.models import build_model, save_model
from rtdetect.models import zoo
from rtdetect.models.errors import CheckpointFormatError


def test_refused_checkpoint_leaves_nothing_in_the_cache(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    cache = tmp_path / "cache"
    with pytest.raises(CheckpointFormatError):
        zoo.resolve_model(garbage, imgsz=(64, 64), cache_dir=cache)
    assert sorted(os.listdir(cache)) == []  # was: a 0-byte .lock per refused file


# A real conversion in a child process, stopped for good right after the ONNX partial is complete.
_KILLED_CONVERSION = textwrap.dedent("""
    import sys, time
    import rtdetect.models.export as export
    write_metadata = export._write_metadata
    def write_then_wait(path, props):
        write_metadata(path, props)
        print("partial written", flush=True)
        time.sleep(600)
    export._write_metadata = write_then_wait
    from rtdetect.models.zoo import resolve_model
    resolve_model(sys.argv[1], imgsz=(64, 64), cache_dir=sys.argv[2])
""")


def test_partial_of_a_killed_conversion_is_removed_by_the_next_use(tmp_path):
    torch.manual_seed(0)
    source = save_model(build_model("yolov8n", nc=3), tmp_path / "tiny.pt")
    cache = tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CONVERSION, str(source), str(cache)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "partial written", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    orphans = [name for name in os.listdir(cache) if str(child.pid) in name]
    assert orphans, os.listdir(cache)  # the killed run's partial, named by its PID
    path = zoo.resolve_model(source, imgsz=(64, 64), cache_dir=cache)
    assert sorted(os.listdir(cache)) == [path.name, path.name + ".sha256"]  # partial and lock gone, model converted
    onnx.checker.check_model(onnx.load(path))


def test_partial_whose_pid_now_belongs_to_another_process_is_removed(tmp_path):
    """A partial names its writer by PID and start time. A real, live process holds the PID in each name:
    the partial that records that process's own start time may be being written and stays; the one that
    records another start time was written by an earlier process whose PID was reused, and goes."""
    from rtdetect.atomic import partial_path, process_start_time, remove_stale_partials

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        start = process_start_time(other.pid)
        assert start is not None
        live = tmp_path / f".model.partial-{other.pid}-{start}-0123abcd.onnx"
        reused = tmp_path / f".model.partial-{other.pid}-{start - 1}-4567cdef.onnx"
        for path in (live, reused):
            path.write_bytes(b"partial")
        assert remove_stale_partials(tmp_path) == [reused]
        assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]
    finally:
        other.kill()
        other.wait(timeout=60)
    assert remove_stale_partials(tmp_path) == [live]  # its writer is gone now
    ours = partial_path(tmp_path / "model.onnx").name  # this process's partials record its start time too
    assert ours.startswith(f".model.partial-{os.getpid()}-{process_start_time(os.getpid())}-")



def test_partials_named_by_pids_no_process_can_have_are_removed(tmp_path, data_dir, small_detector):
    """A partial's name is read back as a PID: one too large for the system made every later run writing
    into that folder end with a traceback (OverflowError), and PID 0 would have kept its file forever."""
    from tests.pipeline.cli_helpers import run_cli

    names = [".o.partial-99999999999999999999-1-aaaaaaa9.jsonl", ".o.partial-0-aaaaaaa8.jsonl"]
    for name in names:
        (tmp_path / name).write_text("x")
    result = run_cli("--source", data_dir / "bus.jpg", "--model", small_detector, "--backend", "onnxruntime",
                     "--json", tmp_path / "o.jsonl", "--no-progress")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl"]
