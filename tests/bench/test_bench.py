"""``rtdetect bench`` on a tiny real run: the JSON, Markdown and plot it writes, and the sanity of the figures.

No assertion is about speed: only structure, ordering and internal consistency (FPS against frame times).
"""
import contextlib
import copy
import io
import json
import os
import math

import pytest

from rtdetect.bench.report import GPU_ROWS, row_names, to_markdown
from rtdetect.bench.runner import SCHEMA, BenchSettings
from rtdetect.cli import main
from rtdetect.metrics import STAGES

FRAMES, WARMUP = 4, 1


@pytest.fixture(scope="module")
def bench_run(fall_detection_dir, tmp_path_factory):
    """One CLI run on the bundled demo clip with two configurations, one of them unavailable on every machine
    (fp16 on ONNX Runtime's CPU provider), so the run is the same with or without a GPU."""
    out = tmp_path_factory.mktemp("bench")
    paths = {ext: out / f"bench.{ext}" for ext in ("json", "md", "png")}
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main(["bench", "--source", "demo", "--model", str(fall_detection_dir / "best_fp16.onnx"),
                       "--backend", "onnxruntime", "--precision", "fp32,fp16", "--frames", str(FRAMES),
                       "--warmup", str(WARMUP), "--json", str(paths["json"]), "--md", str(paths["md"]),
                       "--plot", str(paths["png"])])
    assert status == 0
    paths["stderr"] = stderr.getvalue()
    return json.loads(paths["json"].read_text()), paths


def _ok(report):
    return [c for c in report["configs"] if c["status"] == "ok"]


def test_report_says_what_and_where(bench_run):
    report, _ = bench_run
    assert report["schema"] == SCHEMA
    host = report["host"]
    assert host["cores"] >= 1 and host["cpu"] and host["gpu"] == "not measured"
    assert set(host["libraries"]) == {"onnxruntime", "openvino", "opencv-python", "numpy", "torch"}
    settings = report["settings"]
    assert settings["frames"] == FRAMES and settings["warmup"] == WARMUP
    assert settings["conf"] == 0.25 and settings["iou"] == 0.45 and settings["imgsz"] is None
    # Detection's rule for the demo clip (768x576); this fixed-shape file keeps its own 640x640 (its column says so).
    assert settings["input_hw"] == [480, 640] and _ok(report)[0]["input_hw"] == [640, 640]


def test_unavailable_configuration_is_reported_not_raised(bench_run):
    report, _ = bench_run
    by_precision = {c["precision"]: c for c in report["configs"]}
    assert by_precision["fp32"]["status"] == "ok"
    fp16 = by_precision["fp16"]
    assert fp16["status"] == "unavailable" and "fp16" in fp16["reason"]


@pytest.mark.no_gpu
def test_tensorrt_is_unavailable_here_with_the_install_hint():
    from rtdetect.bench.engines import unavailable_reason

    assert "rtdetect[tensorrt-cu12]" in unavailable_reason("tensorrt", "fp32")


def test_stage_percentiles_are_ordered(bench_run):
    config = _ok(bench_run[0])[0]
    for stage in ("capture", "preprocess", "inference", "decode_nms", "render", "write"):
        s = config["stages_ms"][stage]
        assert s["count"] == FRAMES, stage
        assert 0 <= s["p50"] <= s["p95"] <= s["p99"], stage
        assert s["mean"] >= 0
    assert set(config["stages_ms"]) <= set(STAGES)


def test_fps_agrees_with_frame_times(bench_run):
    config = _ok(bench_run[0])[0]
    e2e, model = config["end_to_end"], config["model_only"]
    for fps, frames, seconds in zip(e2e["fps_runs"], e2e["frames_runs"], e2e["seconds_runs"]):
        assert frames == FRAMES and math.isclose(fps, frames / seconds, rel_tol=1e-9)
    assert model["frames_runs"] == [FRAMES]
    assert math.isclose(model["fps"], model["frames_runs"][0] / model["seconds_runs"][0], rel_tol=1e-9)
    # Model-only wall time is the sum of its calls plus loop overhead: FPS at most 1000 / mean latency.
    assert model["fps"] <= 1000.0 / model["latency_ms"]["mean"] * 1.0001
    assert model["fps"] >= 1000.0 / model["latency_ms"]["mean"] * 0.9
    # Overlapped stages still run one inference at a time: the counted window holds at least the
    # inferences of all counted frames but the first, so FPS is bounded by the inference time.
    slowest = config["stages_ms"]["inference"]["mean"] / 1000.0
    assert e2e["fps"] <= FRAMES / ((FRAMES - 1) * slowest) * 1.5
    assert math.isclose(config["e2e_over_model"], e2e["fps"] / model["fps"], rel_tol=1e-9)


def test_cpu_and_memory_are_plausible(bench_run):
    config = _ok(bench_run[0])[0]
    report = bench_run[0]
    assert 0 < config["end_to_end"]["cpu_cores_used"] <= report["host"]["cores"] * 1.2
    assert 50 < config["peak_rss_mib"] < 24 * 1024
    assert config["gpu"] == "not measured"


def test_markdown_has_one_column_per_configuration(bench_run):
    report, paths = bench_run
    text = paths["md"].read_text()
    assert text == to_markdown(report)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| metric | onnxruntime fp32 | onnxruntime fp16 |"
    assert len(table) == 2 + len(row_names(report))
    assert all(line.count("|") == 4 for line in table)
    assert "unavailable: " in table[2]
    for fragment in (report["host"]["cpu"], "onnxruntime", "numpy", "conf > 0.25", "640x640"):
        assert fragment in text


def test_plot_is_a_png(bench_run):
    assert bench_run[1]["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cpu_only_run_has_no_gpu_rows(bench_run):
    report, paths = bench_run
    rows = [line.split("|")[1].strip() for line in paths["md"].read_text().splitlines() if line.startswith("|")]
    for absent in (*GPU_ROWS, "upload ms", "gpu_graph ms", "gpu_eager ms", "download ms"):
        assert not any(row.startswith(absent) for row in rows), absent
    for present in ("inference ms", "decode_nms ms", "render ms", "write ms"):
        assert any(row.startswith(present) for row in rows), present


def test_progress_is_said_before_each_slow_step(bench_run):
    lines = bench_run[1]["stderr"].splitlines()
    steps = [line for line in lines if line.startswith("rtdetect bench: ")]
    assert "preparing the model" in steps[0]
    assert any("onnxruntime fp32: measuring, repeat 1 of 1" in line for line in steps)
    assert any("onnxruntime fp16: unavailable here" in line for line in steps)


def _bars_under_legends(report) -> int:
    """How many drawn bars of the plot of ``report`` a legend covers (window pixels)."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Bbox

    from rtdetect.bench.plot import plot_figure

    figure = plot_figure(report)
    renderer = figure.canvas.get_renderer()
    covered = 0
    for ax in figure.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        area = ax.get_window_extent(renderer)
        # What is drawn of each bar: its rectangle clipped to the axes (a log axis sends a bar's base far below).
        bars = [Bbox.intersection(p.get_window_extent(renderer), area) for p in ax.patches
                if isinstance(p, Rectangle) and p.get_height() > 0]
        assert bars and all(bar is not None for bar in bars)
        covered += sum(min(legend.x1, bar.x1) > max(legend.x0, bar.x0) and min(legend.y1, bar.y1) > max(legend.y0, bar.y0)
                       for bar in bars)
    return covered


def test_plot_legends_cover_no_bar(bench_run):
    report = bench_run[0]
    assert _bars_under_legends(report) == 0
    # Bars of equal height leave a legend inside the axes no free corner: the case where it covered one.
    level = copy.deepcopy(report)
    config = _ok(level)[0]
    config["end_to_end"]["fps"] = config["model_only"]["fps"]
    for stage in config["stages_ms"].values():
        stage["p50"] = 100.0
    assert _bars_under_legends(level) == 0


def test_missing_output_directory_fails_before_measuring(tmp_path, capsys):
    status = main(["bench", "--source", "demo", "--json", str(tmp_path / "missing" / "out.json")])
    assert status == 1
    assert "output directory does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("options", [dict(frames=0), dict(warmup=-1), dict(repeats=0), dict(sink="screen"),
                                     dict(backends=())])
def test_settings_reject_nonsense(options):
    with pytest.raises(ValueError):
        BenchSettings(source="demo", **options)


def test_configurations_are_the_product_of_backends_and_precisions():
    settings = BenchSettings(source="demo", backends=("onnxruntime", "tensorrt"), precisions=("fp32", "int8"))
    assert settings.configs == (("onnxruntime", "fp32"), ("onnxruntime", "int8"),
                                ("tensorrt", "fp32"), ("tensorrt", "int8"))


def test_precision_reasons():
    from rtdetect.bench.engines import unavailable_reason

    assert unavailable_reason("onnxruntime", "fp32") is None
    assert "fp16" in unavailable_reason("onnxruntime", "fp16")
    assert "unknown precision" in unavailable_reason("onnxruntime", "bf8")
    assert unavailable_reason("onnxruntime", "int8") is None  # the Q/DQ model of rtdetect.inference.onnx_tools.quantize


def test_int8_cache_key_follows_its_inputs(fall_detection_dir):
    from rtdetect.inference.int8 import int8_key
    from rtdetect.trial_inputs import calibration_path

    model = str(fall_detection_dir / "best_fp16.onnx")
    key = int8_key(model, "a", 100, (640, 640), "r1")
    assert key == int8_key(model, "a", 100, (640, 640), "r1")
    assert len({key, int8_key(model, "b", 100, (640, 640), "r1"), int8_key(model, "a", 200, (640, 640), "r1"),
                int8_key(model, "a", 100, (480, 640), "r1"), int8_key(model, "a", 100, (640, 640), "r2")}) == 5
    assert calibration_path("demo").endswith("demo.mp4") and calibration_path("x.mp4") == "x.mp4"


def test_auto_lists_every_candidate_with_its_agreement(fall_detection_dir, tmp_path):
    """``--backend auto``: the candidates ``--backend auto`` weighs here, side by side, each with its
    agreement with ONNX Runtime fp32 and the guard's verdict."""
    pytest.importorskip("openvino")
    from rtdetect.inference.selection import candidates

    out = tmp_path / "auto.json"
    status = main(["bench", "--source", "demo", "--model", str(fall_detection_dir / "best_fp16.onnx"),
                   "--backend", "auto", "--frames", "2", "--warmup", "1", "--sink", "none",
                   "--json", str(out), "--md", str(tmp_path / "auto.md")])
    assert status == 0
    report = json.loads(out.read_text())
    assert [(c["backend"], c["precision"]) for c in report["configs"]] == [(c.backend, c.precision) for c in candidates()]
    assert len(report["configs"]) >= 2  # ONNX Runtime fp32 and OpenVINO fp32 on any x86-64 CPU (int8: with VNNI)
    for config in _ok(report):
        agree = config["agreement"]
        assert agree["frames"] == 6 and agree["reference"] > 0
        assert config["agreement_f1"] == pytest.approx(2 * agree["matched"] / (agree["reference"] + agree["other"]))
    reference = report["configs"][0]
    assert reference["agreement_f1"] == 1.0 and reference["guard_accepts"]
    assert sum(c["auto_choice"] for c in report["configs"]) == 1
    text = (tmp_path / "auto.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| agreement with onnxruntime fp32"))
    assert row.count("accepted") + row.count("rejected by the guard") == len(_ok(report))


def test_no_frame_left_after_warmup_is_one_line_without_the_password(data_dir, tmp_path):
    """A stream URL with credentials that ends within the warm-up: the error names the source redacted (the
    raw URL, password included, was a planted bug no test caught)."""
    from live_servers import MjpegServer
    from pipeline.cli_helpers import run_cli
    from pipeline.helpers import make_tiny_detector

    model = make_tiny_detector(tmp_path / "tiny.onnx")
    server = MjpegServer(data_dir / "bus.jpg", fps=20, sizes="160x120", per_connection=3)
    try:
        result = run_cli("bench", "--source", server.url("admin:S3cretPw") + "?token=T0kenV4lue", "--model", model,
                         "--imgsz", "32", "--frames", "3", "--warmup", "5", "--reconnect", "0", "--sink", "none")
    finally:
        server.kill()
    assert "S3cretPw" not in result.stderr + result.stdout and "T0kenV4lue" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if not line.startswith("rtdetect bench: ")]  # progress
    assert result.returncode == 1 and errors == [
        f"rtdetect: error: http://admin:***@127.0.0.1:{server.port}/camera.mjpg?token=*** has no frame left after "
        "the 5 warm-up frames: use a longer source or a smaller --warmup"], result.stderr


def test_plot_without_matplotlib_is_one_line_before_measuring(data_dir, small_detector, tmp_path):
    """A plain install has no matplotlib (it is in the [bench] extra): --plot crashed with a traceback after
    the whole measurement. Here matplotlib is made unimportable for the command."""
    from tests.pipeline.cli_helpers import assert_one_line_error, run_cli

    hidden = tmp_path / "hide" / "matplotlib"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    path = os.pathsep.join(filter(None, [str(hidden.parent), os.environ.get("PYTHONPATH")]))
    result = run_cli("bench", "--source", data_dir / "bus.jpg", "--model", small_detector, "--backend",
                     "onnxruntime", "--precision", "fp32", "--plot", tmp_path / "b.png", env={"PYTHONPATH": path})
    assert_one_line_error(result, "--plot needs matplotlib", "[bench]")
    assert "rtdetect bench:" not in result.stderr  # refused before any step was taken
