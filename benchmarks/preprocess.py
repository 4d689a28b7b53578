"""Letterbox + normalise: rtdetect's Preprocessor against a straightforward NumPy version.

    /work/venv/bin/python benchmarks/preprocess.py [--quick]

A 1920x1080 frame (vtest.avi frame 0 scaled up, so it has real picture content) and a 768x576 vtest.avi
frame, to 640x640 and to 480x640. The outputs are asserted equal before timing. Target on this machine:
1920x1080 to 640 under 1.5 ms p50 (the straightforward NumPy version takes about 3.4 ms).
Results: benchmarks/results/preprocess.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from _common import env_note, machine, print_table, read_frame, save_results, stats_ms, time_calls  # noqa: E402
from rtdetect.preprocess import PAD_VALUE, Preprocessor, letterbox_params  # noqa: E402

TARGET_MS = 1.5


def plain_letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """The straightforward way: resize, BGR→RGB, scale to float32, HWC→CHW, paste on a padded canvas."""
    box, (new_h, new_w) = letterbox_params(image.shape[:2], input_hw)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = int(box.pad_y), int(box.pad_x)
    rgb = resized[:, :, ::-1].astype(np.float32) * np.float32(1.0 / 255.0)  # rtdetect scales by 1/255 in float32
    canvas = np.full((3, *input_hw), PAD_VALUE / 255.0, dtype=np.float32)
    canvas[:, top:top + new_h, left:left + new_w] = rgb.transpose(2, 0, 1)
    return canvas[None]


def row(name: str, image: np.ndarray, input_hw: tuple[int, int], repeat: int) -> dict:
    """Equality first, then p50 of: the pipeline's call (fresh output), reused output, plain NumPy."""
    fresh, reused = Preprocessor(input_hw), Preprocessor(input_hw, reuse_output=True)
    expected = plain_letterbox(image, input_hw)
    if not (np.array_equal(fresh(image)[0], expected) and np.array_equal(reused(image)[0], expected)):
        raise SystemExit(f"{name} -> {input_hw}: rtdetect's output differs from the plain version")
    return {"frame": name, "input_hw": list(input_hw),
            "rtdetect_ms": stats_ms(time_calls(lambda: fresh(image), repeat=repeat)),
            "rtdetect_reuse_output_ms": stats_ms(time_calls(lambda: reused(image), repeat=repeat)),
            "plain_numpy_ms": stats_ms(time_calls(lambda: plain_letterbox(image, input_hw), repeat=repeat))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-save", action="store_true", help="print only, do not write results/preprocess.json")
    args = parser.parse_args()
    host = machine()
    print(f"# letterbox + normalise, load average {host['load_avg']}, {host['cpu']} x{host['cores']}, "
          f"OpenCV threads {cv2.getNumThreads()}, OpenBLAS env: {env_note()}")
    vtest = read_frame()
    full_hd = cv2.resize(vtest, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    repeat = 100 if args.quick else 1000
    rows = [row("1920x1080", full_hd, (640, 640), repeat), row("1920x1080", full_hd, (384, 640), repeat),
            row("768x576 vtest", vtest, (640, 640), repeat), row("768x576 vtest", vtest, (480, 640), repeat)]
    rows[0]["target_p50_ms"], rows[0]["met"] = TARGET_MS, rows[0]["rtdetect_ms"]["p50"] < TARGET_MS
    print_table([[r["frame"], "x".join(map(str, r["input_hw"])), r["rtdetect_ms"]["p50"], r["rtdetect_reuse_output_ms"]["p50"],
                  r["plain_numpy_ms"]["p50"], round(r["plain_numpy_ms"]["p50"] / r["rtdetect_ms"]["p50"], 2)] for r in rows],
                ["frame", "input", "rtdetect p50 ms (fresh output, as the pipeline)", "reuse_output p50 ms",
                 "plain NumPy p50 ms", "speed-up"])
    print(f"target 1920x1080 -> 640 < {TARGET_MS} ms: {'met' if rows[0]['met'] else 'MISSED'}")
    host["load_avg_after"] = machine()["load_avg"]
    print(f"load average after: {host['load_avg_after']}")
    if not args.no_save:
        print("wrote", save_results("preprocess", {"machine": host, "opencv_threads": cv2.getNumThreads(), "rows": rows}))


if __name__ == "__main__":
    main()
