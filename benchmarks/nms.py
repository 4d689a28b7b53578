"""Decode + NMS on the CPU: rtdetect against OpenCV's NMSBoxesBatched and a plain NumPy loop.

    /work/venv/bin/python benchmarks/nms.py [--quick]

Part 1, synthetic candidates (clusters of jittered boxes like a detector's, 80 classes) at 100, 1 000,
10 000 and 30 000 candidates: ``rtdetect.nms.nms`` vs ``cv2.dnn.NMSBoxesBatched`` vs the plain NumPy
loop of ``_plain.py``. The kept sets are asserted equal before anything is timed (max_det = N so that
OpenCV, which has no cap on kept boxes, answers the same question); rtdetect is also timed with the
pipeline's max_det = 300.

Part 2, real model outputs (see ``_outputs.py``): decode + NMS as the pipeline runs it
(``Postprocessor.select``) vs plain decode + plain NMS vs plain decode + OpenCV NMS, kept sets asserted
equal first. Targets on this machine: YOLOv8 (8400 candidates) < 0.3 ms p50, YOLOv5 (25 200 x 85) < 0.5 ms.
Results: benchmarks/results/nms.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from _common import env_note, machine, print_table, save_results, stats_ms, time_calls  # noqa: E402
from _outputs import raw_output  # noqa: E402
from _plain import plain_decode_v5, plain_decode_v8, plain_nms  # noqa: E402
from rtdetect.decode import AnchorBasedDecoder, AnchorFreeDecoder, OutputRoles  # noqa: E402
from rtdetect.nms import nms, nms_reference  # noqa: E402
from rtdetect.postprocess import PostprocessConfig, Postprocessor  # noqa: E402

SIZES = (100, 1000, 10000, 30000)
CONF, IOU = 0.25, 0.45


def synthetic(n: int, seed: int = 0, nc: int = 80):
    """n candidates in 640x640: clusters of ~30 jittered copies of an object box, mostly its class."""
    rng = np.random.default_rng(seed)
    objects = max(1, n // 30)
    centre = rng.uniform(40, 600, (objects, 2))
    size = rng.uniform(16, 200, (objects, 2))
    owner = rng.integers(0, objects, n)
    c = centre[owner] + rng.normal(0, 0.08, (n, 2)) * size[owner]
    s = size[owner] * rng.uniform(0.85, 1.15, (n, 2))
    boxes = np.concatenate([c - s / 2, c + s / 2], axis=1).astype(np.float32)
    scores = rng.uniform(CONF, 1.0, n).astype(np.float32)
    cls = np.where(rng.random(n) < 0.9, rng.integers(0, nc, objects)[owner], rng.integers(0, nc, n)).astype(np.int32)
    return boxes, scores, cls


def cv2_nms(xywh: np.ndarray, scores: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """OpenCV's batched (class-aware) NMS on (N, 4) x, y, w, h float boxes; kept indices int64."""
    kept = cv2.dnn.NMSBoxesBatched(xywh, scores, cls, 0.0, IOU)
    return np.asarray(kept, dtype=np.int64).reshape(-1)


def _to_xywh(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)


def _repeat(n: int, quick: bool) -> int:
    base = {100: 2000, 1000: 300, 10000: 30, 30000: 10}[n]
    return max(3, base // 10) if quick else base


def synthetic_row(n: int, quick: bool) -> dict:
    """Kept sets checked, then each implementation timed on the same n candidates."""
    boxes, scores, cls = synthetic(n)
    xywh = _to_xywh(boxes)
    ours = nms(boxes, scores, cls, IOU, max_det=n)
    plain = plain_nms(boxes, scores, cls, IOU, max_det=n)
    opencv = cv2_nms(xywh, scores, cls)
    if not np.array_equal(ours, plain) or not np.array_equal(np.sort(ours), np.sort(opencv)):
        raise SystemExit(f"kept sets differ at N={n}: ours {len(ours)}, plain {len(plain)}, OpenCV {len(opencv)}")
    if n <= 1000 and not np.array_equal(ours, nms_reference(boxes, scores, cls, IOU, max_det=n)):
        raise SystemExit(f"rtdetect.nms differs from the reference at N={n}")
    capped = nms(boxes, scores, cls, IOU, max_det=300)
    if not np.array_equal(capped, plain_nms(boxes, scores, cls, IOU, max_det=300)):
        raise SystemExit(f"kept sets differ at N={n} with max_det=300")
    r = _repeat(n, quick)
    return {"candidates": n, "kept": len(ours), "kept_max_det_300": len(capped),
            "rtdetect_ms": stats_ms(time_calls(lambda: nms(boxes, scores, cls, IOU, max_det=n), repeat=r, warmup=3)),
            "rtdetect_max_det_300_ms": stats_ms(time_calls(lambda: nms(boxes, scores, cls, IOU), repeat=r, warmup=3)),
            "opencv_ms": stats_ms(time_calls(lambda: cv2_nms(xywh, scores, cls), repeat=r, warmup=3)),
            "plain_numpy_ms": stats_ms(time_calls(lambda: plain_nms(boxes, scores, cls, IOU, max_det=n), repeat=r, warmup=3))}


REAL = {  # name: (decoder class, classes, plain decoder, target p50 ms)
    "v8-fall": (AnchorFreeDecoder, 2, plain_decode_v8, 0.3),
    "v8-80cls-from-v5s": (AnchorFreeDecoder, 80, plain_decode_v8, 0.3),
    "v8-80cls-random": (AnchorFreeDecoder, 80, plain_decode_v8, None),
    "v5s": (AnchorBasedDecoder, 80, plain_decode_v5, 0.5),
}


def real_row(name: str, quick: bool) -> dict:
    """Decode + NMS of one real output: the pipeline's path vs the plain and OpenCV paths."""
    decoder_cls, nc, plain_decode, target = REAL[name]
    pred = raw_output(name)
    post = Postprocessor(decoder_cls(nc), OutputRoles(0, None), [str(i) for i in range(nc)], PostprocessConfig(conf=CONF, iou=IOU))
    ours = post.select([pred])
    boxes, scores, cls = plain_decode(pred, CONF, nc)
    plain = plain_nms(boxes, scores, cls, IOU)
    opencv = cv2_nms(_to_xywh(boxes), scores, cls)[:PostprocessConfig().max_det]  # OpenCV has no cap: its first 300
    if not (np.array_equal(ours.xyxy, boxes[plain]) and np.array_equal(np.sort(plain), np.sort(opencv))):
        raise SystemExit(f"{name}: kept sets differ (ours {len(ours)}, plain {len(plain)}, OpenCV {len(opencv)})")
    decoder = post.decoder
    r = 300 if quick else 3000
    ours_ms = stats_ms(time_calls(lambda: post.select([pred]), repeat=r))
    return {"model": name, "shape": list(pred.shape), "candidates": len(scores), "kept": len(ours), "target_p50_ms": target,
            "rtdetect_ms": ours_ms, "met": None if target is None else ours_ms["p50"] < target,
            "rtdetect_decode_ms": stats_ms(time_calls(lambda: decoder.decode(pred, CONF), repeat=r)),
            "rtdetect_nms_ms": stats_ms(time_calls(lambda: nms(boxes, scores, cls, IOU), repeat=r)),
            "plain_numpy_ms": stats_ms(time_calls(lambda: plain_nms(*plain_decode(pred, CONF, nc), IOU), repeat=r // 3)),
            "plain_decode_opencv_nms_ms": stats_ms(time_calls(
                lambda: cv2_nms(_to_xywh((d := plain_decode(pred, CONF, nc))[0]), d[1], d[2]), repeat=r // 3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-save", action="store_true", help="print only, do not write results/nms.json")
    parser.add_argument("--real-only", action="store_true", help="only part 2 (real outputs)")
    args = parser.parse_args()
    host = machine()
    print(f"# decode + NMS, load average {host['load_avg']}, {host['cpu']} x{host['cores']}, OpenBLAS env: {env_note()}")
    synth = [] if args.real_only else [synthetic_row(n, args.quick) for n in SIZES]
    print_table([[s["candidates"], s["kept"], s["rtdetect_ms"]["p50"], s["rtdetect_max_det_300_ms"]["p50"],
                  s["opencv_ms"]["p50"], s["plain_numpy_ms"]["p50"]] for s in synth],
                ["candidates", "kept", "rtdetect p50 ms", "rtdetect max_det=300 p50 ms", "cv2 NMSBoxesBatched p50 ms", "plain NumPy p50 ms"])
    real = [real_row(name, args.quick) for name in REAL]
    print_table([[r["model"], r["shape"], r["candidates"], r["kept"], r["rtdetect_ms"]["p50"], r["rtdetect_decode_ms"]["p50"],
                  r["rtdetect_nms_ms"]["p50"], r["plain_numpy_ms"]["p50"], r["plain_decode_opencv_nms_ms"]["p50"],
                  "no target (random weights: every column passes)" if r["met"] is None
                  else f"< {r['target_p50_ms']}: {'met' if r['met'] else 'MISSED'}"] for r in real],
                ["output", "shape", "candidates", "kept", "rtdetect decode+NMS p50 ms", "decode p50", "NMS p50",
                 "plain NumPy p50 ms", "plain decode + cv2 NMS p50 ms", "target"])
    host["load_avg_after"] = machine()["load_avg"]
    print(f"load average after: {host['load_avg_after']}")
    if not args.no_save:
        print("wrote", save_results("nms", {"machine": host, "conf": CONF, "iou": IOU, "synthetic": synth, "real": real}))


if __name__ == "__main__":
    main()
