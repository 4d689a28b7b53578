"""Whole-process runs for ``peers.py --whole-process``: each tool started as a user starts it, timed from
process start to exit, on the same clip, weights and thresholds, each writing an annotated video and
its detections.

- rtdetect: ``python -m rtdetect.cli --source CLIP --model best.pt --save out.mp4 --json out.jsonl`` with
  ``PYTHONPATH`` set to the rtdetect checkout under test (main, a branch...) and its own conversion
  cache, warmed by one untimed run (the one-off .pt → ONNX conversion is reported separately).
- Ultralytics: ``yolo predict model=MODEL source=CLIP save=True save_txt=True save_conf=True``, MODEL
  being what ``yolo export format=onnx`` and ``yolo export format=openvino`` made of the same best.pt.

Detections are read back from rtdetect's JSONL and Ultralytics' per-frame label files.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

PEERS_BIN = Path("/work/venv-peers/bin")
MAIN_PYTHON = Path("/work/main/.venv/bin/python")


@dataclass
class Run:
    """One configuration: how to start it and where its detections end up."""

    name: str
    kind: str  # "rtdetect" | "ultralytics"
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def cut_clip(source: Path, frames: int, out: Path) -> Path:
    """The first ``frames`` frames of ``source`` re-encoded as MPEG-4 part 2 (like vtest.avi) at ``out``."""
    if out.is_file():
        return out
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {source}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    writer = None
    for _ in range(frames):
        ok, image = capture.read()
        if not ok:
            raise SystemExit(f"{source} has fewer than {frames} frames")
        if writer is None:
            writer = cv2.VideoWriter(str(out) + ".tmp.avi", cv2.VideoWriter_fourcc(*"XVID"), fps,
                                     (image.shape[1], image.shape[0]))
        writer.write(image)
    writer.release()
    capture.release()
    os.replace(str(out) + ".tmp.avi", out)
    return out


def ultralytics_exports(weights: Path, workdir: Path) -> dict[str, Path]:
    """``yolo export`` of ``weights`` (copied into ``workdir``) to ONNX and OpenVINO, each once."""
    local = workdir / weights.name
    if not local.is_file():
        shutil.copy2(weights, local)
    made = {"onnx": local.with_suffix(".onnx"), "openvino": workdir / f"{local.stem}_openvino_model"}
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    for fmt, path in made.items():
        if not path.exists():
            subprocess.run([str(PEERS_BIN / "yolo"), "export", f"model={local}", f"format={fmt}"], check=True,
                           cwd=workdir, env=env, capture_output=True)
    return made


def rtdetect_run(name: str, checkout: Path, weights: Path, clip: Path, out: Path, extra: list[str],
                 conf: float, iou: float) -> Run:
    argv = [str(MAIN_PYTHON), "-m", "rtdetect.cli", "--source", str(clip), "--model", str(weights),
            "--conf", str(conf), "--iou", str(iou), "--save", str(out / "out.mp4"), "--json", str(out / "out.jsonl"),
            "--no-progress", *extra]
    env = {"PYTHONPATH": str(checkout), "RTDETECT_CACHE": str(out.parent / f"cache-{name}")}
    return Run(name, "rtdetect", argv, env)


def ultralytics_run(name: str, model: Path, clip: Path, out: Path, conf: float, iou: float) -> Run:
    argv = [str(PEERS_BIN / "yolo"), "predict", f"model={model}", f"source={clip}", "device=cpu", "imgsz=640",
            f"conf={conf}", f"iou={iou}", "max_det=300", "save=True", "save_txt=True", "save_conf=True",
            f"project={out}", "name=predict", "exist_ok=True", "verbose=False"]
    return Run(name, "ultralytics", argv, {"YOLO_OFFLINE": "1"})


def output_dir(run: Run) -> Path:
    """Where a run writes (its --save / project argument's folder)."""
    for arg in run.argv:
        if arg.startswith("project="):
            return Path(arg.split("=", 1)[1])
        if arg.endswith("out.mp4"):
            return Path(arg).parent
    raise ValueError(run.name)


def timed(run: Run) -> tuple[float, float, str]:
    """Wall seconds of the whole process (start to exit), the CPU seconds (user + system) it and its
    children used, and its stderr; a failing run stops the benchmark."""
    folder = output_dir(run)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, **run.env}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd: the output folder, so that ``python -m`` cannot import rtdetect from the caller's directory.
    result = subprocess.run(run.argv, env=env, capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{run.name} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, result.stderr


def rtdetect_detections(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame index → (xyxy (N, 4) float64, class ids (N,)) from rtdetect's JSONL."""
    dets = {}
    for line in (folder / "out.jsonl").read_text().splitlines():
        record = json.loads(line)
        items = record["detections"]
        dets[record["frame"]] = (np.array([d["box"] for d in items], np.float64).reshape(-1, 4),
                                 np.array([d["class_id"] for d in items], int))
    return dets


def ultralytics_detections(folder: Path, clip: Path, frames: int, frame_hw: tuple[int, int]) -> dict:
    """frame index → (xyxy, class ids) from Ultralytics' ``labels/<stem>_<frame>.txt`` (normalised
    ``cls xc yc w h conf``; frame numbers from 1; no file for a frame without detections)."""
    labels = folder / "predict" / "labels"
    height, width = frame_hw
    dets = {}
    for index in range(frames):
        path = labels / f"{clip.stem}_{index + 1}.txt"
        rows = np.loadtxt(path, ndmin=2) if path.is_file() else np.zeros((0, 6))
        xc, yc, w, h = (rows[:, 1] * width, rows[:, 2] * height, rows[:, 3] * width, rows[:, 4] * height)
        dets[index] = (np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1),
                       rows[:, 0].astype(int))
    return dets


def detections_of(run: Run, clip: Path, frames: int, frame_hw: tuple[int, int]) -> dict:
    folder = output_dir(run)
    if run.kind == "rtdetect":
        return rtdetect_detections(folder)
    return ultralytics_detections(folder, clip, frames, frame_hw)
