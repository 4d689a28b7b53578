"""The README's examples run as written (issue 27: `--output-dir out/` failed with "not an existing folder").

Every command of the README's ```bash blocks is run by bash in a fresh folder holding the files the examples
name (clip.mp4, photos/, photo.jpg, streams.txt, archive/), with ``rtdetect`` being this checkout's command
and ``--max-frames 2`` added where the command takes it; a command that needs what a test cannot have here
(a camera, a display, a GPU, the network, a Ray cluster, a dataset, a long run) is skipped with its reason.
"""
import os
import re
import shutil
import stat
import subprocess

import cv2
import pytest

from .cli_helpers import cli_command

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIPPED = (  # (a fragment of the command, why it is not run here); the first that matches says why
    ("make ", "sets up .venv, then runs the demo or the whole suite: the long run this suite is part of"),
    ("pip install", "installs packages from the network"),
    ("webcam", "needs a camera"),
    ("--show", "needs a display"),
    ("rtsp://", "needs a camera on the network"),
    ("ray start", "starts the nodes of a Ray cluster"),
    ("--cluster auto", "needs a Ray cluster joined with `ray start`"),
    ("ray://", "needs a remote Ray cluster"),
    ("--serve 0.0.0.0:8080", "serves on every interface at a fixed port (tests/serve covers --serve)"),
    ("tensorrt", "needs an NVIDIA GPU"),
    ("rtdetect build", "builds a TensorRT engine: needs an NVIDIA GPU"),
    ("rtdetect val", "needs a COCO or YOLO dataset (tests/val runs val on one)"),
    ("rtdetect bench", "a benchmark: a long run on a shared machine (tests/bench covers the command)"),
)
NO_MAX_FRAMES = ("rtdetect batch", "rtdetect doctor")  # commands without --max-frames


def readme_commands() -> list[str]:
    """Each command line of the README's ```bash blocks, its trailing comment removed."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        blocks = re.findall(r"^```bash\n(.*?)^```", handle.read(), re.M | re.S)
    lines = (re.split(r"\s+#\s", line)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def skip_reason(command: str) -> str | None:
    return next((why for fragment, why in SKIPPED if fragment in command), None)


def short_clip(src, dst, frames: int) -> None:
    """The first ``frames`` frames of the video ``src`` as the video ``dst`` (a quick batch input)."""
    capture = cv2.VideoCapture(str(src))
    writer = None
    for _ in range(frames):
        image = capture.read()[1]
        writer = writer or cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 10, image.shape[1::-1])
        writer.write(image)
    writer.release()
    capture.release()


@pytest.fixture
def example_folder(tmp_path, data_dir):
    """A folder with what the README's commands name, and a ``bin/rtdetect`` that runs this checkout's CLI."""
    work = tmp_path / "work"
    (work / "photos" / "street").mkdir(parents=True)
    shutil.copy(data_dir / "vtest_3s.mp4", work / "clip.mp4")
    shutil.copy(data_dir / "bus.jpg", work / "photos" / "bus.jpg")
    shutil.copy(data_dir / "zidane.jpg", work / "photos" / "street" / "zidane.jpg")
    shutil.copy(data_dir / "person.jpg", work / "photo.jpg")
    shutil.copy(data_dir / "bus.jpg", work / "bus.jpg")
    (work / "streams.txt").write_text("clip.mp4\ndemo\n")
    (work / "archive" / "day1").mkdir(parents=True)
    short_clip(data_dir / "vtest_3s.mp4", work / "archive" / "day1" / "gate.mp4", 3)
    launcher = tmp_path / "bin" / "rtdetect"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in cli_command()) + ' "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    return work, str(launcher.parent)


def test_the_readme_has_commands_to_run():
    commands = readme_commands()
    assert len(commands) >= 20 and sum(skip_reason(c) is None for c in commands) >= 8, commands


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(command, example_folder):
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    work, bin_dir = example_folder
    if command.startswith("rtdetect ") and not command.startswith(NO_MAX_FRAMES):
        command = command.replace("rtdetect ", "rtdetect --max-frames 2 ", 1)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    if "--output-dir out/" in command:  # created as --save DIR/ creates its folder, and written into
        assert (work / "out").is_dir() and any((work / "out").iterdir())
