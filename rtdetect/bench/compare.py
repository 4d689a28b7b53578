"""``rtdetect bench --compare 'COMMAND'``: another tool's command line beside the equivalent rtdetect command,
each run as a whole process (start-up, model loading, decoding, writing: what a user waits for) on the same
source, interleaved round by round.

Each process is timed from its start to its exit; its CPU time is the user + system time ``os.wait4``
reports for it (its own and that of the children it waited for). FPS is the frames of the source (or the
number the user gives) over the wall time. One untimed round first warms what a first run pays once (file
caches, a model conversion or download); then each timed round runs both, the order swapped every round so
that neither always runs second.
"""
from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..capture.redact import redact_text
from ..errors import RtdetectError, UsageError

RTDETECT, OTHER = "rtdetect", "other"


def shown(argv: list[str]) -> str:
    """``argv`` as a shell line, with the passwords and tokens of any URL in it masked."""
    return redact_text(shlex.join(argv))


def parse_command(command: str) -> list[str]:
    """``command`` split as a POSIX shell splits it; UsageError when it is empty, malformed or its program
    is not found (checked before anything is measured)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"--compare: cannot parse {command!r}: {exc}") from None
    if not argv:
        raise UsageError("--compare: the command is empty")
    if shutil.which(argv[0]) is None:
        raise UsageError(f"--compare: program not found: {argv[0]}")
    return argv


@dataclass(frozen=True)
class ProcessRun:
    """One whole-process run: which tool, which round (0: the untimed warm-up), wall and CPU seconds, and the
    FPS over ``frames``. (No peak memory: Linux's ``ru_maxrss`` of a child counts the parent's pages it was
    forked with, so it would show the bench's own size.)"""

    tool: str
    round: int
    wall_s: float
    user_s: float
    sys_s: float
    frames: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "cpu_s": self.cpu_s, "fps": self.fps}


def run_process(argv: list[str], log: Path) -> tuple[float, "os.struct_rusage"]:
    """Run ``argv`` to its end (stdin empty, stdout and stderr into ``log``): (wall seconds, its rusage).
    RtdetectError naming the command and its last line of output when it fails."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise RtdetectError(f"--compare: cannot run {argv[0]}: {exc.strerror}") from None
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if process.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        last = f": {redact_text(lines[-1])}" if lines else ""
        raise RtdetectError(f"--compare: `{shown(argv)}` exited with status {process.returncode}{last}")
    return wall, usage


def rtdetect_command(settings, backend: str, precision: str, frames: int | None, source_is_video: bool,
                     out: Path) -> list[str]:
    """The rtdetect command a user would type for what the bench measured: its source, model, input size,
    thresholds, the chosen backend and precision, detections to a JSONL and, with the ``video`` sink, the
    annotated video (or images); ``frames``: ``--max-frames`` (None: the whole source)."""
    argv = [sys.executable, "-m", "rtdetect.cli", "--source", settings.source, "--model", settings.model,
            "--backend", backend, "--precision", precision, "--conf", str(settings.conf), "--iou", str(settings.iou),
            "--max-det", str(settings.max_det), "--json", str(out / "detections.jsonl"), "--no-progress"]
    if settings.imgsz is not None:
        argv += ["--imgsz", *map(str, settings.imgsz if isinstance(settings.imgsz, tuple) else (settings.imgsz,))]
    if frames is not None:
        argv += ["--max-frames", str(frames)]
    if settings.sink == "video":
        argv += ["--save", str(out / "annotated.mp4") if source_is_video else str(out / "annotated") + os.sep]
    return argv


def _summary(runs: list[ProcessRun]) -> dict:
    """Medians over the timed runs of one tool, with the wall-time range."""
    walls = [r.wall_s for r in runs]
    return {"wall_s": statistics.median(walls), "wall_s_min": min(walls), "wall_s_max": max(walls),
            "fps": statistics.median(r.fps for r in runs), "cpu_s": statistics.median(r.cpu_s for r in runs),
            "cores_used": statistics.median(r.cpu_s / r.wall_s for r in runs if r.wall_s > 0)}


def compare(commands: dict[str, list[str]], *, frames: int, rounds: int,
            say: Callable[[str], None]) -> dict:
    """Run ``commands`` (tool name → argv: ``rtdetect`` and ``other``) once untimed, then ``rounds`` timed
    rounds, the order swapped every round; the report's ``compare`` section."""
    order = [RTDETECT, OTHER]
    runs: list[ProcessRun] = []
    with tempfile.TemporaryDirectory(prefix="rtdetect-compare-") as logs:
        for round_ in range(rounds + 1):
            for tool in order if round_ % 2 == 0 else order[::-1]:
                what = "warm-up, not timed" if round_ == 0 else f"round {round_} of {rounds}"
                say(f"--compare: {tool} ({what}): {shown(commands[tool])}")
                wall, usage = run_process(commands[tool], Path(logs) / f"{tool}-{round_}.log")
                runs.append(ProcessRun(tool, round_, wall, usage.ru_utime, usage.ru_stime, frames))
    timed = [r for r in runs if r.round > 0]
    tools = {tool: _summary([r for r in timed if r.tool == tool]) for tool in order}
    other_fps = tools[OTHER]["fps"]
    return {"commands": {tool: shown(argv) for tool, argv in commands.items()}, "frames": frames,
            "rounds": rounds, "runs": [r.as_dict() for r in runs], "tools": tools,
            "fps_ratio": tools[RTDETECT]["fps"] / other_fps if other_fps else None}
