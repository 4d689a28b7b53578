"""End to end with the default model (official YOLOv5s-seg, converted on first use) on real footage."""
import json
from collections import Counter

from rtdetect.app import detect
from rtdetect.sinks.rle import decode_mask

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
