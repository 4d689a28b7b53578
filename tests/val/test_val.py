"""``rtdetect val`` (issue 26 item 1) on real COCO images and their person annotations: its figures equal
pycocotools run by hand on detection's own ``--json`` output, a YOLO copy of the same labels scores the same,
and bad entries are named and skipped."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.cli_helpers import assert_one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[2]
COCO_PERSON = ROOT.parent / "shared" / "datasets" / "coco-person-60"
VAL_JSON = COCO_PERSON / "annotations" / "person_keypoints_val2017.json"
# Six val2017 images of five sizes, one without people; every person has one polygon and none is a crowd,
# so a YOLO copy (one polygon a line) holds exactly the same objects.
IMAGE_IDS = (9483, 14888, 24027, 67180, 162092, 165039)
ENGINE = ("--model", "yolov5s-seg", "--backend", "onnxruntime", "--precision", "fp32")
STAT_KEYS = ("map", "map50", "map75", "map_small", "map_medium", "map_large")


def coco_copy(folder: Path, image_ids=IMAGE_IDS) -> Path:
    """``folder`` as a COCO dataset of ``image_ids`` (annotations/instances_val2017.json, images/val2017/)."""
    if not VAL_JSON.is_file():
        pytest.skip(f"the shared dataset is not here: {COCO_PERSON}")
    raw = json.loads(VAL_JSON.read_text())
    images = [i for i in raw["images"] if i["id"] in image_ids]
    annotations = [a for a in raw["annotations"] if a["image_id"] in image_ids]
    (folder / "annotations").mkdir(parents=True)
    (folder / "images" / "val2017").mkdir(parents=True)
    for image in images:
        shutil.copy(COCO_PERSON / "images" / "val2017" / image["file_name"], folder / "images" / "val2017")
    (folder / "annotations" / "instances_val2017.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": raw["categories"]}))
    return folder


def yolo_copy(coco: Path, folder: Path, *, boxes: bool) -> Path:
    """The COCO dataset ``coco`` as a YOLO one (data.yaml, images/val, labels/val): each object as its box
    line (``boxes``) or its polygon line, in normalised coordinates written at full precision."""
    raw = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    (folder / "images" / "val").mkdir(parents=True)
    (folder / "labels" / "val").mkdir(parents=True)
    lines = {image["id"]: [] for image in raw["images"]}
    sizes = {image["id"]: (image["width"], image["height"]) for image in raw["images"]}
    for ann in raw["annotations"]:
        w, h = sizes[ann["image_id"]]
        if boxes:
            x, y, bw, bh = ann["bbox"]
            values = [(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h]
        else:
            (polygon,) = ann["segmentation"]
            values = [v / (w if i % 2 == 0 else h) for i, v in enumerate(polygon)]
        lines[ann["image_id"]].append(" ".join(["0", *map(repr, values)]))
    for image in raw["images"]:
        shutil.copy(coco / "images" / "val2017" / image["file_name"], folder / "images" / "val")
        label = (folder / "labels" / "val" / image["file_name"]).with_suffix(".txt")
        if lines[image["id"]]:
            label.write_text("\n".join(lines[image["id"]]) + "\n")
    (folder / "data.yaml").write_text("path: .\nval: images/val\nnames:\n  0: person\n")
    return folder


def val(data: Path, out: Path, *extra):
    """``rtdetect val`` of the default model on ``data``: (process result, its --json report)."""
    result = run_cli("val", "--data", data, *ENGINE, "--json", out, "--no-progress", *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result, json.loads(out.read_text())


@pytest.fixture(scope="module")
def coco_run(v5seg_onnx, tmp_path_factory):
    """The COCO fixture and ``rtdetect val``'s run on it: (dataset folder, process result, report)."""
    folder = coco_copy(tmp_path_factory.mktemp("val") / "coco")
    result, report = val(folder, folder.parent / "m.json", "--save", folder.parent / "worst")
    return folder, result, report


def hand_scores(gt_json: Path, detections_jsonl: Path) -> dict[str, list[float]]:
    """COCOeval's stats for boxes and masks of detection's JSONL, converted here from its own schema
    (``source`` = file name, xyxy boxes, full-image RLE masks, ``label``) to COCO results."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(gt_json))
    image_id = {image["file_name"]: image["id"] for image in gt.dataset["images"]}
    category_id = {c["name"]: c["id"] for c in gt.dataset["categories"]}
    boxes, masks = [], []
    for line in detections_jsonl.read_text().splitlines():
        record = json.loads(line)
        for item in record["detections"]:
            if item["label"] not in category_id:
                continue
            x1, y1, x2, y2 = item["box"]
            common = {"image_id": image_id[record["source"]], "category_id": category_id[item["label"]],
                      "score": item["score"]}
            boxes.append({**common, "bbox": [x1, y1, x2 - x1, y2 - y1]})
            masks.append({**common, "segmentation": item["mask"]})
    stats = {}
    for kind, iou_type, results in (("box", "bbox", boxes), ("mask", "segm", masks)):
        evaluator = COCOeval(gt, gt.loadRes(results), iou_type)
        evaluator.params.catIds = [category_id["person"]]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        stats[kind] = [float(v) for v in evaluator.stats[:6]]
    return stats


@pytest.fixture(scope="module")
def detected(coco_run) -> Path:
    """Detection's own ``--json`` of the fixture's images, at val's default thresholds for this model."""
    folder = coco_run[0]
    out = folder.parent / "det.jsonl"
    run = run_cli("--source", folder / "images" / "val2017", *ENGINE, "--conf", "0.001", "--iou", "0.6",
                  "--max-det", "300", "--json", out)
    assert run.returncode == 0, run.stderr
    return out


def test_val_equals_pycocotools_on_the_detections_of_rtdetect_json(coco_run, detected):
    folder, result, report = coco_run
    expected = hand_scores(folder / "annotations" / "instances_val2017.json", detected)

    assert report["images"] == len(IMAGE_IDS) and report["instances"] == 24
    assert (report["model"], report["backend"], report["precision"]) == ("yolov5s-seg", "onnxruntime", "fp32")
    assert report["imgsz"] == [640, 640] and report["iou"] == 0.6
    for kind in ("box", "mask"):
        assert [report[kind][key] for key in STAT_KEYS] == expected[kind], kind
        (person,) = report[kind]["per_class"]
        assert person["class"] == "person" and person["instances"] == 24
        assert person["map"] == pytest.approx(report[kind]["map"], abs=1e-12)
    assert 0.2 < report["box"]["map"] < 1 and 0.2 < report["mask"]["map"] < 1  # a real detector, not noise
    table = result.stdout
    assert f"{100 * report['box']['map']:.1f}" in table and f"{100 * report['mask']['map50']:.1f}" in table
    assert "person" in table


def test_save_writes_the_worst_images_ground_truth_beside_predictions(coco_run):
    import cv2

    folder, result, report = coco_run
    saved = sorted((folder.parent / "worst").iterdir())
    assert f"wrote {len(saved)} image(s) with errors" in result.stderr
    assert 1 <= len(saved) <= len(IMAGE_IDS)
    for path in saved:
        source = cv2.imread(str(folder / "images" / "val2017" / path.name))
        picture = cv2.imread(str(path))
        h, w = source.shape[:2]
        title = picture.shape[0] - h  # a strip above the pictures, for their titles
        assert picture.shape == (h + title, 2 * w, 3) and 0 < title < h
        truth, predicted = picture[title:, :w].astype(int), picture[title:, w:].astype(int)
        assert np.abs(truth - source).mean() > 1 and np.abs(truth - predicted).mean() > 1  # both drawn on


def test_crowd_regions_are_honoured(coco_run, detected, tmp_path):
    """A person turned into a crowd region (RLE, ``iscrowd`` 1) is no longer an instance to find, and a
    detection on it is neither a hit nor a false positive: the figures still equal COCOeval's by hand."""
    from pycocotools import mask as mask_utils

    folder = coco_copy(tmp_path / "coco")
    annotations = folder / "annotations" / "instances_val2017.json"
    raw = json.loads(annotations.read_text())
    sizes = {image["id"]: (image["height"], image["width"]) for image in raw["images"]}
    crowd = next(a for a in raw["annotations"] if a["image_id"] == 162092)
    rle = mask_utils.merge(mask_utils.frPyObjects(crowd["segmentation"], *sizes[162092]))
    crowd.update(iscrowd=1, segmentation={"size": rle["size"], "counts": rle["counts"].decode("ascii")})
    annotations.write_text(json.dumps(raw))
    _, report = val(folder, tmp_path / "m.json")
    expected = hand_scores(annotations, detected)
    assert report["instances"] == 24 - 1
    for kind in ("box", "mask"):
        assert [report[kind][key] for key in STAT_KEYS] == expected[kind], kind
    assert report["box"]["map"] != coco_run[2]["box"]["map"]  # the crowd changed what is scored


@pytest.mark.parametrize("boxes", [True, False], ids=["box-lines", "polygon-lines"])
def test_a_yolo_copy_of_the_labels_scores_as_the_coco_one(coco_run, tmp_path, boxes):
    coco, _, coco_report = coco_run
    data = yolo_copy(coco, tmp_path / "yolo", boxes=boxes)
    result, report = val(data / "data.yaml", tmp_path / "y.json")
    assert report["images"] == len(IMAGE_IDS) and report["instances"] == 24
    kind = "box" if boxes else "mask"
    for key in ("map", "map50", "map75"):
        assert report[kind][key] == pytest.approx(coco_report[kind][key], abs=1e-9), key
    if boxes:
        assert report["mask"] is None and "masks not scored" in result.stderr
    # The folder pair without a yaml reads the same labels (names from the model, by id).
    (data / "data.yaml").unlink()
    result, pair = val(data, tmp_path / "pair.json")
    assert pair[kind]["map"] == report[kind]["map"]
    assert "taken to be the model's, by id" in result.stderr


def named_once(stderr: str, *fragments: str) -> None:
    """Each fragment is on exactly one stderr line, a ``rtdetect:`` note."""
    for fragment in fragments:
        lines = [line for line in stderr.splitlines() if fragment in line]
        assert len(lines) == 1 and lines[0].startswith("rtdetect: "), (fragment, stderr)


def test_bad_coco_entries_are_named_once_and_the_rest_is_scored(v5seg_onnx, tmp_path):
    folder = coco_copy(tmp_path / "coco")
    annotations = folder / "annotations" / "instances_val2017.json"
    raw = json.loads(annotations.read_text())
    files = {image["id"]: folder / "images" / "val2017" / image["file_name"] for image in raw["images"]}
    files[67180].unlink()                              # a missing image (1 person)
    files[24027].write_bytes(b"not a picture at all")  # an unreadable one (2 persons)
    raw["annotations"] += [
        {"id": 900001, "image_id": 424242, "category_id": 1, "iscrowd": 0, "area": 100.0,
         "bbox": [1, 1, 10, 10], "segmentation": [[1, 1, 11, 1, 11, 11]]},             # its image is not there
        {"id": 900002, "image_id": 9483, "category_id": 1, "iscrowd": 0, "area": 100.0,
         "bbox": [1, 1, 10, 10], "segmentation": [[1, 1, 11, 11]]},                     # a two-point polygon
    ]
    annotations.write_text(json.dumps(raw))
    result, report = val(folder, tmp_path / "m.json")
    named_once(result.stderr, "skipping image 67180", "skipping image 24027", "skipping annotation 900001",
               "skipping annotation 900002")
    assert report["images"] == len(IMAGE_IDS) - 2 and report["instances"] == 24 - 3
    assert report["box"]["map"] > 0.2


def test_bad_yolo_lines_are_named_once_and_the_rest_is_scored(coco_run, tmp_path):
    coco, _, _ = coco_run
    data = yolo_copy(coco, tmp_path / "yolo", boxes=True)
    labels = data / "labels" / "val"
    (labels / "000000014888.txt").write_text("")                                    # an empty label file
    with open(labels / "000000009483.txt", "a") as f:
        f.write("3 0.5 0.5 0.2 0.2\n0 0.5 0.5\n")                                  # class outside names; 1 point
    listed = [f"images/val/{p.name}" for p in sorted((data / "images" / "val").iterdir())] + ["images/val/gone.jpg"]
    (data / "val.txt").write_text("\n".join(listed) + "\n")
    (data / "data.yaml").write_text("path: .\nval: val.txt\nnames: [person]\n")
    result, report = val(data / "data.yaml", tmp_path / "y.json")
    named_once(result.stderr, "000000014888.txt is empty", "000000009483.txt:2: class 3 is not among",
               "000000009483.txt:3: a polygon with fewer than 3 points", "gone.jpg: no such file")
    assert report["images"] == len(IMAGE_IDS) and report["instances"] == 24


def test_a_dataset_without_a_usable_image_is_one_error(tmp_path):
    folder = coco_copy(tmp_path / "coco")
    shutil.rmtree(folder / "images")
    result = run_cli("val", "--data", folder, *ENGINE, "--no-progress")
    assert_one_line_error_after_notes(result, "no usable image in")


def test_no_class_in_common_is_one_error_naming_the_dataset_classes(small_detector, tmp_path):
    folder = coco_copy(tmp_path / "coco")
    result = run_cli("val", "--data", folder, "--model", small_detector, "--backend", "onnxruntime",
                     "--precision", "fp32", "--no-progress")
    assert_one_line_error(result, "no dataset class matches", "dataset: person", "Normal")


def test_without_pycocotools_it_is_one_line_naming_the_extra(tmp_path):
    blocker = tmp_path / "blocked" / "pycocotools"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test', name='pycocotools')\n")
    path = os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))
    result = run_cli("val", "--data", tmp_path, *ENGINE, env={"PYTHONPATH": path})
    assert_one_line_error(result, "pycocotools", "pip install -e '.[val]' in the rtdetect clone")


def assert_one_line_error_after_notes(result, fragment: str) -> None:
    """Exit status 1, no traceback, and the last stderr line the one error (the skipped entries are notes)."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("rtdetect: error: ")]
    assert errors == [lines[-1]] and fragment in errors[0], result.stderr


def test_help_states_the_validation_defaults():
    result = run_cli("val", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for default in ("(default: 0.001)", "0.6 for YOLOv5/v7", "0.7 for YOLOv8 and later", "(default: 300"):
        assert default in text, default
