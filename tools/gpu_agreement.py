"""GPU vs CPU detections on the same frames, for tools/gpu_check.sh: the TensorRT pipeline (our kernels
around the engine) against ONNX Runtime fp32, matched per frame by ``rtdetect.agreement`` (same class,
box IoU >= 0.9, and mask IoU for segmentation models). Prints one line per source and exits non-zero when
any F1 is below ``--min-f1``.

Usage: ``python tools/gpu_agreement.py [--model yolov5s-seg] [--min-f1 0.95] [--frames 60] SOURCE...``
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script from a checkout: make the rtdetect beside tools/ importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtdetect import Detector  # noqa: E402
from rtdetect.agreement import agreement  # noqa: E402


def detections(model: str, backend: str, precision: str, source: str, frames: int) -> list:
    """Each frame's Detections of ``source`` through ``model`` on ``backend``/``precision``."""
    with Detector(model, backend=backend, precision=precision) as detector:
        return [found for _, found in detector.stream(source, max_frames=frames)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--model", default="yolov5s-seg")
    parser.add_argument("--precision", default="fp16", help="TensorRT precision (default: fp16)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--min-f1", type=float, default=0.95)
    args = parser.parse_args(argv)
    worst = 1.0
    for source in args.sources:
        cpu = detections(args.model, "onnxruntime", "fp32", source, args.frames)
        gpu = detections(args.model, "tensorrt", args.precision, source, args.frames)
        result = agreement(cpu, gpu)
        f1 = 0.0 if result.f1 is None else result.f1
        worst = min(worst, f1)
        print(f"{source}: tensorrt {args.precision} vs onnxruntime fp32: {result.describe()}")
    return 0 if worst >= args.min_f1 else 1


if __name__ == "__main__":
    sys.exit(main())
