"""``rtdetect bench`` measures what the command runs (issue 27 item 4): the input shape detection would use
for the source, the frames really counted, configurations interleaved round by round with the spread shown,
and configurations the accuracy guard rejects marked as such in every output."""
from __future__ import annotations

import copy
import json
import re

import pytest

from rtdetect.bench.report import config_name, to_markdown
from rtdetect.input_shape import network_input_hw
from tests.pipeline.cli_helpers import run_cli

WARMUP, REPEATS = 2, 2
CLIP_FRAMES = 30  # tests/data/vtest_3s.mp4: 3 s at 10 fps, 768x576


@pytest.fixture(scope="module")
def run(fall_dynamic_onnx, data_dir, tmp_path_factory):
    """Two configurations, two repeats, on a clip shorter than ``--frames``, with a dynamic-shape model (so
    the engine takes the shape the bench asks for) at long side 160."""
    pytest.importorskip("openvino")
    out = tmp_path_factory.mktemp("bench-runs")
    result = run_cli("bench", "--source", data_dir / "vtest_3s.mp4", "--model", fall_dynamic_onnx, "--imgsz", "160",
                     "--backend", "onnxruntime,openvino", "--frames", "100", "--warmup", str(WARMUP),
                     "--repeats", str(REPEATS), "--sink", "none", "--json", out / "b.json", "--md", out / "b.md",
                     "--plot", out / "b.png")
    assert result.returncode == 0, result.stderr
    return json.loads((out / "b.json").read_text()), (out / "b.md").read_text(), result.stderr


def _ok(report):
    return [c for c in report["configs"] if c["status"] == "ok"]


def test_input_shape_is_the_one_detection_runs(run):
    """The bench measured 640x640 where `rtdetect --source demo` runs 480x640: now the same rule."""
    report, text, _ = run
    expected = list(network_input_hw(160, (576, 768)))
    assert expected == [128, 160]
    assert report["settings"]["input_hw"] == expected and report["settings"]["source_frame_hw"] == [576, 768]
    assert [c["input_hw"] for c in _ok(report)] == [expected, expected]
    assert "network input 128x160 (as detection runs this source: long side 160" in text


def test_header_counts_the_frames_really_counted(run):
    """The header said "100 frames counted" when the clip held fewer."""
    report, text, _ = run
    counted = CLIP_FRAMES - WARMUP
    for config in _ok(report):
        assert config["end_to_end"]["frames_runs"] == [counted] * REPEATS
    assert f"{counted} frames counted per repeat (--frames 100: the source ended)" in text
    assert "100 frames counted" not in text


def test_configurations_are_interleaved_round_by_round(run):
    """Repeat r of every configuration runs before repeat r + 1 of any (they ran one after another)."""
    _, _, stderr = run
    measured = re.findall(r"rtdetect bench: (\w+ fp32): measuring, repeat (\d) of 2", stderr)
    assert measured == [("onnxruntime fp32", "1"), ("openvino fp32", "1"),
                        ("onnxruntime fp32", "2"), ("openvino fp32", "2")]


def test_markdown_shows_the_spread_over_repeats(run):
    report, text, _ = run
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| ")}
    for kind, row in (("end_to_end", "end-to-end FPS (stages overlapped)"), ("model_only", "model-only FPS")):
        for config, cell in zip(report["configs"], rows[row]):
            runs = config[kind]["fps_runs"]
            assert len(runs) == REPEATS
            assert cell == f"{config[kind]['fps']:.1f} ({min(runs):.1f}–{max(runs):.1f} over {REPEATS} repeats)"


def _rejected(report):
    """``report`` with its second configuration as the accuracy guard rejects it."""
    rejected = copy.deepcopy(report)
    rejected["configs"][1]["guard_accepts"] = False
    return rejected


def test_rejected_precision_is_named_so_in_markdown_and_json(run):
    report, text, _ = run
    assert [c["name"] for c in report["configs"]] == [config_name(c) for c in report["configs"]]
    assert all(c["guard_accepts"] and "rejected" not in c["name"] for c in report["configs"])
    header = to_markdown(_rejected(report)).splitlines()
    table = next(line for line in header if line.startswith("| metric"))
    assert table == "| metric | onnxruntime fp32 | openvino fp32 (rejected by the guard) |"


def test_rejected_precision_is_named_and_hatched_in_the_plot(run):
    """int8 appeared in the plot without its "rejected by the guard"."""
    from rtdetect.bench.plot import plot_figure

    figure = plot_figure(_rejected(run[0]))
    stages_ax, fps_ax = figure.axes
    legend = [t.get_text() for t in stages_ax.get_legend().get_texts()]
    assert legend == ["onnxruntime fp32", "openvino fp32 (rejected by the guard)"]
    ticks = [t.get_text() for t in fps_ax.get_xticklabels()]
    assert ticks == ["onnxruntime\nfp32", "openvino\nfp32 (rejected by the guard)"]
    hatches = [bar.get_hatch() for bar in fps_ax.patches]
    assert hatches == [None, "//", None, "//"]


@pytest.mark.parametrize("extra, expected", [(("--source", "demo"), (256, 320)), ((), (320, 320))])
def test_build_builds_the_shape_detection_runs_for_the_source(monkeypatch, capsys, extra, expected):
    """`rtdetect build` built 640x640 (here 320x320) whatever the source, so a prebuilt engine never matched a
    non-square one; with --source it builds detection's shape for it (the demo clip is 768x576)."""
    from types import SimpleNamespace

    from rtdetect.cli import main
    from rtdetect.inference.tensorrt import builder, models

    calls = []
    monkeypatch.setattr(models, "onnx_for_build", lambda model, *, imgsz, batch: calls.append(imgsz) or "m.onnx")
    monkeypatch.setattr(builder, "build_engine", lambda onnx, *, imgsz, **options: calls.append(imgsz) or
                        SimpleNamespace(built=True, engine="m.engine", sidecar=SimpleNamespace(name="m.json")))
    assert main(["build", "--model", "yolov5s-seg", "--imgsz", "320", *extra]) == 0
    assert calls == [expected, expected]
    if extra:
        assert expected == network_input_hw(320, (576, 768))
