"""``rtdetect bench --compare 'COMMAND'`` (issue 27 item 4): another tool's command line beside the equivalent
rtdetect command, whole processes on the same source, interleaved, with wall time, FPS and the child's CPU
time. The other tool here is a Python one-liner that burns a known amount of CPU time (Ultralytics is not
installed here)."""
from __future__ import annotations

import json
import shlex
import statistics
import sys
from pathlib import Path

import pytest

from rtdetect.bench.compare import rtdetect_command
from rtdetect.bench.runner import BenchSettings
from tests.pipeline.cli_helpers import assert_one_line_error, run_cli

CLIP_FRAMES = 30  # tests/data/vtest_3s.mp4
BURN_S = 0.5
# Spins until its own CPU time reaches BURN_S: a lower bound on what os.wait4 must report for it.
BURNER = f"import time\nwhile time.process_time() < {BURN_S}: pass"


def _bench(small_detector, data_dir, *extra):
    return run_cli("bench", "--source", data_dir / "vtest_3s.mp4", "--model", small_detector, "--backend",
                   "onnxruntime", "--precision", "fp32", "--frames", "1", "--warmup", "1", "--sink", "none", *extra)


@pytest.fixture(scope="module")
def compared(small_detector, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    command = shlex.join([sys.executable, "-c", BURNER])
    result = _bench(small_detector, data_dir, "--repeats", "2", "--compare", command,
                    "--json", out / "b.json", "--md", out / "b.md")
    assert result.returncode == 0, result.stderr
    return json.loads((out / "b.json").read_text()), (out / "b.md").read_text(), result.stderr, command


def test_both_commands_run_interleaved_after_an_untimed_round(compared):
    report, _, stderr, command = compared
    compare = report["compare"]
    assert [(r["tool"], r["round"]) for r in compare["runs"]] == [
        ("rtdetect", 0), ("other", 0), ("other", 1), ("rtdetect", 1), ("rtdetect", 2), ("other", 2)]
    said = [line.split(": ")[2].split(" (")[0] for line in stderr.splitlines()
            if line.startswith("rtdetect bench: --compare: ")]
    assert said == ["rtdetect", "other", "other", "rtdetect", "rtdetect", "other"]
    assert compare["commands"]["other"] == command
    ours = shlex.split(compare["commands"]["rtdetect"])
    assert ours[1:3] == ["-m", "rtdetect.cli"] and "--max-frames" not in ours
    for flag, value in (("--backend", "onnxruntime"), ("--precision", "fp32"), ("--conf", "0.25")):
        assert ours[ours.index(flag) + 1] == value
    assert compare["configuration"] == "onnxruntime fp32"


def test_wall_time_fps_and_the_child_cpu_time(compared):
    compare = compared[0]["compare"]
    assert compare["frames"] == CLIP_FRAMES and compare["frames_from"] == "the source's length"
    for run in compare["runs"]:
        assert run["wall_s"] > 0 and run["fps"] == pytest.approx(CLIP_FRAMES / run["wall_s"])
        assert run["cpu_s"] == pytest.approx(run["user_s"] + run["sys_s"])
        if run["tool"] == "other":
            # The child's own CPU time (not the bench's), and a single thread's never exceeds its wall time.
            assert BURN_S <= run["cpu_s"] <= run["wall_s"] * 1.05
    for tool in ("rtdetect", "other"):
        timed = [r for r in compare["runs"] if r["tool"] == tool and r["round"] > 0]
        summary = compare["tools"][tool]
        assert summary["wall_s"] == pytest.approx(statistics.median(r["wall_s"] for r in timed))
        assert summary["cpu_s"] == pytest.approx(statistics.median(r["cpu_s"] for r in timed))
        assert summary["wall_s_min"] == min(r["wall_s"] for r in timed)
    assert compare["fps_ratio"] == pytest.approx(compare["tools"]["rtdetect"]["fps"] / compare["tools"]["other"]["fps"])


def test_markdown_has_the_side_by_side_table(compared):
    report, text, _, _ = compared
    assert f"## Whole process (--compare): {CLIP_FRAMES} frames (the source's length), 2 timed round(s)" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    other = report["compare"]["tools"]["other"]
    assert f"| {other['cpu_s']:.2f} |" in rows["CPU s (user + sys of the process)"]
    assert f"| {other['fps']:.2f} |" in rows["FPS (frames / wall)"]
    # One table line per row: the one-liner's newline is shown escaped.
    assert "\\nwhile time.process_time()" in rows["command"]


def test_frames_given_bound_rtdetect_command():
    settings = BenchSettings(source="clip.mp4", model="m.onnx", sink="video", imgsz=320)
    argv = rtdetect_command(settings, "openvino", "int8", 12, True, Path("out"))
    assert argv[argv.index("--max-frames") + 1] == "12" and argv[argv.index("--imgsz") + 1] == "320"
    assert argv[argv.index("--save") + 1] == str(Path("out") / "annotated.mp4")
    assert "--max-frames" not in rtdetect_command(settings, "openvino", "int8", None, True, Path("out"))


def test_a_missing_program_is_one_line_before_measuring(small_detector, data_dir):
    result = _bench(small_detector, data_dir, "--compare", "no-such-tool-here predict source=x")
    assert_one_line_error(result, "--compare: program not found: no-such-tool-here")
    assert "rtdetect bench:" not in result.stderr


def test_a_failing_command_is_one_line_naming_its_status(small_detector, data_dir):
    failing = "import sys; print('model file missing', file=sys.stderr); sys.exit(3)"
    command = shlex.join([sys.executable, "-c", failing])
    result = _bench(small_detector, data_dir, "--compare", command)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("rtdetect bench: ")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert errors[0].startswith("rtdetect: error: --compare: ")
    assert "exited with status 3: model file missing" in errors[0]


def test_a_live_source_needs_the_frame_count(small_detector, data_dir):
    """A stream has no length: FPS needs the frames the commands process, given before anything is measured."""
    from live_servers import MjpegServer

    server = MjpegServer(data_dir / "bus.jpg", fps=20, sizes="160x120")
    try:
        result = run_cli("bench", "--source", server.url(), "--model", small_detector, "--frames", "1",
                         "--compare", shlex.join([sys.executable, "-c", "pass"]), "--reconnect", "0")
    finally:
        server.kill()
    assert_one_line_error(result, "--compare: the source's length is unknown here: give --compare-frames N")
    assert "rtdetect bench:" not in result.stderr
