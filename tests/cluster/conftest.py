"""One local Ray cluster per test session (ray.init takes seconds), and short clips cut from tests/data.

The tests need the [cluster] extra (Ray); without it they skip, and `make test` installs it so CI runs them.
"""
from __future__ import annotations

import os

import cv2
import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """``(ray, address)``: a 2-CPU Ray cluster on 127.0.0.1 that this process is a driver of (to find and
    kill actors) and that ``rtdetect batch --cluster ADDRESS`` subprocesses join."""
    ray = pytest.importorskip("ray", reason="the [cluster] extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, namespace="rtdetect", log_to_driver=False,
             logging_level="ERROR", _node_ip_address="127.0.0.1")
    try:
        yield ray, ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _frames(path) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, image = capture.read()
    while ok:
        frames.append(image)
        ok, image = capture.read()
    capture.release()
    return frames


def write_clip(path, frames, fps: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="session")
def vtest_frames(data_dir) -> list:
    """The 30 frames (768x576) of tests/data/vtest_3s.mp4."""
    return _frames(data_dir / "vtest_3s.mp4")


@pytest.fixture
def archive(tmp_path, vtest_frames):
    """A tree of three 4-frame clips and one corrupt file: ``{key: path}``."""
    root = tmp_path / "archive"
    clips = {"a/one.mp4": vtest_frames[0:4], "a/two.mp4": vtest_frames[4:8], "b/three.mp4": vtest_frames[8:12]}
    paths = {}
    for key, frames in clips.items():
        write_clip(root / key, frames)
        paths[key] = root / key
    (root / "b").mkdir(exist_ok=True)
    (root / "b" / "bad.mp4").write_bytes(os.urandom(4096))
    paths["b/bad.mp4"] = root / "b" / "bad.mp4"
    return root, paths
