"""``rtdetect bench --data`` (issue 26 item 2): each configuration's box and mask mAP beside its speed, in the
JSON, the Markdown and the plot, equal to what ``rtdetect val`` reports for the same model, engine and input."""
from __future__ import annotations

import json
import os

import pytest

from rtdetect.bench.report import to_markdown
from tests.pipeline.cli_helpers import run_cli
from tests.val.test_val import ENGINE, coco_copy


@pytest.fixture(scope="module")
def scored(v5seg_onnx, tmp_path_factory):
    """Six real COCO images with person boxes and polygons; ``rtdetect val``'s report on them and the bench's
    report with ``--data`` on the same folder (several image sizes: both run square 640x640)."""
    folder = coco_copy(tmp_path_factory.mktemp("bench-data") / "coco")
    out = folder.parent
    val = run_cli("val", "--data", folder, *ENGINE, "--json", out / "val.json", "--no-progress")
    assert val.returncode == 0, val.stderr
    bench = run_cli("bench", "--source", folder / "images" / "val2017", *ENGINE, "--frames", "2", "--warmup", "0",
                    "--sink", "none", "--data", folder, "--json", out / "bench.json", "--md", out / "bench.md",
                    "--plot", out / "bench.png")
    assert bench.returncode == 0, bench.stderr
    assert "Traceback" not in bench.stderr
    return json.loads((out / "val.json").read_text()), json.loads((out / "bench.json").read_text()), out


def test_bench_map_equals_val_map_for_the_same_configuration(scored):
    val, bench, _ = scored
    (config,) = bench["configs"]
    accuracy = config["accuracy"]
    assert config["input_hw"] == val["imgsz"] == [640, 640]
    assert accuracy["images"] == val["images"] == 6 and accuracy["instances"] == val["instances"] > 0
    assert accuracy["iou"] == val["iou"] and accuracy["conf"] == 0.001 and accuracy["max_det"] == 300
    for kind in ("box", "mask"):
        for key in ("map", "map50", "map75"):
            assert accuracy[kind][key] == val[kind][key], (kind, key)
    assert 0 < accuracy["box"]["map"] < accuracy["box"]["map50"] <= 1


def test_markdown_shows_map_beside_fps(scored):
    val, bench, out = scored
    text = (out / "bench.md").read_text()
    assert text == to_markdown(bench)
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in text.splitlines() if line.startswith("| ")}
    for kind in ("box", "mask"):
        expected = f"{100 * val[kind]['map']:.1f} / {100 * val[kind]['map50']:.1f}"
        assert rows[f"{kind} mAP50-95 / mAP50 (%, --data)"] == expected
    assert "model-only FPS" in rows
    assert "- accuracy: " in text and "6 images" in text


def test_plot_has_speed_against_accuracy(scored):
    from rtdetect.bench.plot import plot_figure

    _, bench, out = scored
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (config,) = bench["configs"]
    axis = plot_figure(bench).axes[2]
    assert axis.get_title() == "speed vs accuracy"
    points = [tuple(c.get_offsets()[0]) for c in axis.collections]
    fps = config["model_only"]["fps"]
    assert points == [pytest.approx((fps, 100 * config["accuracy"][k]["map"])) for k in ("box", "mask")]


def test_bench_without_the_val_extra_is_one_line_before_measuring(tmp_path, data_dir, small_detector):
    """``--data`` needs pycocotools (the [val] extra): refused before anything is measured."""
    from tests.pipeline.cli_helpers import assert_one_line_error

    hidden = tmp_path / "hide" / "pycocotools"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named pycocotools', name='pycocotools')\n")
    path = os.pathsep.join(filter(None, [str(hidden.parent), os.environ.get("PYTHONPATH")]))
    result = run_cli("bench", "--source", data_dir / "bus.jpg", "--model", small_detector, "--data", tmp_path,
                     env={"PYTHONPATH": path})
    assert_one_line_error(result, "rtdetect bench --data needs pycocotools", "'.[val]'")
    assert "rtdetect bench:" not in result.stderr
