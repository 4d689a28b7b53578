"""Where each stream of a list writes: ``output_dir/<name>/detections.jsonl`` (and ``annotated.mp4`` with
``save``), opened at the stream's first frame and finalised atomically when it ends; and the run of a whole
list through one model (``rtdetect.run.batcher``)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from ..capture import StreamOptions
from ..outputs import open_sinks, plan_outputs
from ..run.batcher import BatchedResult, SourceSpec, run_many
from ..run.model import CpuModel
from ..run.work import WorkItem
from ..sinks.base import Sink
from ..sinks.output import hold_lock
from .lists import RESERVED_NAMES, StreamEntry

JSONL_NAME, VIDEO_NAME = "detections.jsonl", "annotated.mp4"


@dataclass(frozen=True)
class StreamOutputs:
    """What each stream writes under ``output_dir/<name>/``: the JSONL always, the annotated video with
    ``save``; ``track``: a tracker per stream (True: the default; a name of ``tracking.TRACKERS``);
    ``count_lines``: lines whose crossings each stream counts; ``max_frames``: stop each stream after that
    many frames."""

    output_dir: str
    save: bool = False
    track: bool | str = False
    count_lines: tuple[tuple[float, float, float, float], ...] = ()
    max_frames: int | None = None

    def sinks_for(self, name: str, source, names: list[str]) -> list[Sink]:
        """The stream's sinks under ``output_dir/<name>/`` (its folder made here)."""
        folder = os.path.join(self.output_dir, name)
        os.makedirs(folder, exist_ok=True)
        plan = plan_outputs(source, save=os.path.join(folder, VIDEO_NAME) if self.save else None,
                            json_path=os.path.join(folder, JSONL_NAME), show=False)
        return list(open_sinks(plan, None if source.is_live else source.fps, names))

    def written(self, name: str) -> dict[str, int]:
        """The stream's output files that exist, relative to the output folder → bytes."""
        found = {}
        for file in (JSONL_NAME, VIDEO_NAME):
            path = os.path.join(self.output_dir, name, file)
            if os.path.isfile(path):
                found[f"{name}/{file}"] = os.path.getsize(path)
        return found


def hold_output_dir(output_dir: str):
    """The run's hold on ``output_dir`` (released by ``.release()``), taken before any model loads: two runs
    into one folder (stream lists, or ``rtdetect batch``, which holds the same lock) would write the same
    streams' files. OutputError at once when another run holds it."""
    (manifest,) = RESERVED_NAMES  # the batch manifest's name: its lock is the folder's
    return hold_lock(os.path.join(output_dir, manifest), output_dir, "another --output-dir")


def run_streams(entries: Sequence[StreamEntry], model_for: Callable[[list], CpuModel], outputs: StreamOutputs, *,
                stream_options: StreamOptions | None = None, stop: threading.Event | None = None,
                on_frame: Callable[[str, WorkItem], None] | None = None,
                view_for: Callable[[str, list[str]], Sink] | None = None,
                log: Callable[[str], None] | None = None) -> BatchedResult:
    """Every stream of ``entries`` through one model (see ``rtdetect.run.batcher.run_many``), each one's outputs
    under ``outputs.output_dir``; each result lists the files its stream wrote. ``view_for(name, class_names)``:
    one more sink per stream (its tile of the live view), opened with its outputs."""
    def sinks_for(name: str, source, names: list[str]) -> list[Sink]:
        opened = outputs.sinks_for(name, source, names)
        return opened if view_for is None else [*opened, view_for(name, names)]
    result = run_many([SourceSpec(entry.spec, entry.name) for entry in entries], model_for, sinks_for,
                      track=outputs.track, count_lines=outputs.count_lines, max_frames=outputs.max_frames,
                      stream_options=stream_options, stop=stop, on_frame=on_frame, log=log)
    for stream in result.streams:
        if stream.frames:  # its sinks were opened (at its first frame): what is there is this run's
            stream.outputs = outputs.written(stream.name)
    return result
