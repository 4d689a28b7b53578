"""End to end with the default model (official YOLOv5s-seg, converted on first use) on real footage."""
import json
from collections import Counter

from rtdetect.app import detect
from rtdetect.rle import decode_mask

from .helpers import decoded_frame_count


def test_vtest_clip_people_and_cars_with_masks(data_dir, tmp_path, v5seg_onnx):
    """``detect`` resolves the default model from the session cache (tests/conftest.py), where
    ``v5seg_onnx`` has converted it; ONNX Runtime even where TensorRT could run (auto would pick it)."""
    clip = data_dir / "vtest_3s.mp4"
    run = detect(source=str(clip), backend="onnxruntime", save=str(tmp_path / "out.mp4"),
                 json_path=str(tmp_path / "out.jsonl"), max_frames=12, progress=False)
    summary, name = run.summary, run.name
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary.frames == 12 == len(records) == decoded_frame_count(tmp_path / "out.mp4")
    assert name == "vtest_3s.mp4" and [r["frame"] for r in records] == list(range(12))
    labels = Counter(d["label"] for r in records for d in r["detections"])
    assert labels["person"] >= 12 * 3, labels   # several pedestrians are in view the whole time
    assert labels["car"] >= 12, labels          # and parked cars
    for record in records:
        for det in record["detections"]:
            x1, y1, x2, y2 = det["box"]
            mask = decode_mask(det["mask"])
            assert mask.shape == (576, 768)
            inside = mask[int(y1):int(y2) + 1, int(x1):int(x2) + 1].sum()
            assert inside == mask.sum()  # masks never leave their box
    people = [d for r in records for d in r["detections"] if d["label"] == "person" and d["score"] > 0.5]
    coverage = [decode_mask(d["mask"]).sum() / max(1.0, (d["box"][2] - d["box"][0]) * (d["box"][3] - d["box"][1]))
                for d in people]
    assert sorted(coverage)[len(coverage) // 2] > 0.3  # a person's mask fills a good part of its box


def test_jsonl_masks_of_real_frames_are_the_coco_rle_of_their_full_frame_masks(data_dir, v5seg_onnx):
    """Box-local masks of the real model on real frames: each JSONL mask equals pycocotools' RLE of that
    detection's full-frame mask, and decodes back to it pixel for pixel."""
    import cv2
    import numpy as np
    from pycocotools import mask as coco_mask

    from rtdetect.inference import create_engine
    from rtdetect.run import CpuModel, Runner
    from rtdetect.sinks.jsonl import frame_record
    from rtdetect.types import Frame

    engine = create_engine(str(v5seg_onnx), backend="onnxruntime", imgsz=(640, 640))
    with engine:
        pipeline = CpuModel(engine, warmup_runs=1)
        checked = 0
        for name in ("bus.jpg", "zidane.jpg"):
            frame = Frame(cv2.imread(str(data_dir / name)), 0, None, name)
            detections = pipeline.process(frame).detections
            record = frame_record(frame, detections, pipeline.names)
            for i, item in enumerate(record["detections"]):
                full = detections.masks.full(i)
                theirs = coco_mask.encode(np.asfortranarray(full.astype(np.uint8)))
                assert item["mask"] == {"size": list(map(int, theirs["size"])), "counts": theirs["counts"].decode()}
                np.testing.assert_array_equal(decode_mask(item["mask"]), full)
                checked += int(full.any())
    assert checked >= 6  # bus.jpg's people and bus, zidane.jpg's people
