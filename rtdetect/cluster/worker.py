"""One input file, or one group of streams, through a warm engine: the job of each actor of a batch
(``FileWorker``), and of no one else.

A worker keeps one model per network input shape and batch for its whole life, so files after the first
pay no model load or conversion. A file runs through ``rtdetect.run.Runner`` as a single source does; a group
of streams through ``rtdetect.streams`` (its frames batched into one call of the worker's engine). Outputs are the detection command's own sinks, written as
partials and renamed into place on close (``rtdetect.sinks.output``), and discarded when the file fails: a
failed file leaves no new output (an earlier one stays as it was), and a worker killed mid-file leaves only
a partial that the next writer of that target removes.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from ..api import load_model
from ..capture import open_source
from ..errors import RtdetectError
from ..input_shape import Request, network_input_hw, shared_frame_hw
from ..outputs import open_sinks, plan_outputs
from ..postprocess import PostprocessConfig
from ..run import Model, Runner
from ..sinks import close_callback
from ..streams import StreamOutputs, run_streams
from .inputs import BatchInput, StreamGroup
from .manifest import FAILED, INTERRUPTED
from .segments import Segment, SegmentSource


@dataclass(frozen=True)
class BatchSettings:
    """What every file of a batch is processed with (the manifest records it: a change redoes files)."""

    model: str
    imgsz: Request = None
    backend: str = "auto"
    precision: str = "auto"
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    classes: tuple[str, ...] | None = None
    save: bool = False
    track: bool | str = False  # a tracker per file (or stream): True, or a name of tracking.TRACKERS
    count_lines: tuple[tuple[float, float, float, float], ...] = ()  # lines whose crossings are counted
    segment_s: float | None = None  # cut longer videos into segments of this many seconds (JSONL only)
    threads: int = 1  # ONNX Runtime / OpenVINO threads per worker (one worker per that many CPUs)

    def as_dict(self) -> dict:
        """JSON-ready, for the manifest (``threads`` left out: it does not change the outputs)."""
        imgsz = list(self.imgsz) if isinstance(self.imgsz, tuple) else self.imgsz
        return {"model": self.model, "imgsz": imgsz, "backend": self.backend, "precision": self.precision,
                "conf": self.conf, "iou": self.iou, "max_det": self.max_det,
                "classes": list(self.classes) if self.classes else None, "save": self.save,
                **({"track": self.track} if self.track else {}),  # absent when off: older manifests still match
                **({"count_lines": [list(line) for line in self.count_lines]} if self.count_lines else {})}
        # segment_s is left out too: a split file's JSONL is byte for byte the whole file's.


class FileWorker:
    """The state of one batch actor: warm models, and a stop event the driver sets on Ctrl-C (the
    actor runs two threads, so ``stop`` and ``pid`` answer while ``process`` runs)."""

    def __init__(self, settings: BatchSettings) -> None:
        self._settings = settings
        self._config = PostprocessConfig(conf=settings.conf, iou=settings.iou, max_det=settings.max_det)
        self._models: dict[tuple[tuple[int, int], int], Model] = {}
        self._resources = ExitStack()
        self._stopping = threading.Event()
        self._file_stop = threading.Event()  # per file: Runner.run sets its event when a run ends

    def pid(self) -> int:
        return os.getpid()

    def stop(self) -> None:
        """End the file in hand after its current frame (outputs finalised) and refuse further files."""
        self._stopping.set()
        self._file_stop.set()

    def close(self) -> None:
        """Free the engines."""
        self._resources.close()

    def process(self, item: BatchInput, segment: Segment | None = None) -> dict:
        """Process ``item`` (only ``segment`` of it when given: its JSONL to the segment's part file);
        returns its manifest entry (without ``attempts``). Never raises for a bad file: one undecodable or
        unwritable file must not stop the batch, so its error is the entry."""
        return self._guarded(lambda: self._process(item, segment))

    def process_streams(self, group: StreamGroup) -> dict[str, dict]:
        """Run the streams of ``group`` together (``rtdetect.streams``); returns each stream's manifest
        entry (without ``attempts``) by name. A stream that fails fails alone; an error of the whole group
        (e.g. the model) is every stream's entry."""
        outcome = self._guarded(lambda: self._run_streams(group))
        if "status" in outcome:  # the group as a whole failed or was stopped before it started
            return {entry.name: {**outcome, "source": entry.shown} for entry in group.entries}
        return outcome

    def _guarded(self, work) -> dict:
        """``work()``, or the entry of its failure, or ``interrupted`` when a stop came first."""
        if self._stopping.is_set():
            return {"status": INTERRUPTED, "frames": 0, "error": "stopped before it started", "outputs": {}}
        try:
            return work()
        except (RtdetectError, OSError) as exc:
            return {"status": FAILED, "frames": 0, "error": str(exc), "outputs": {}}
        except Exception as exc:  # noqa: BLE001 - e.g. an OpenCV or ONNX Runtime error on a damaged file
            return {"status": FAILED, "frames": 0, "error": f"{type(exc).__name__}: {exc}", "outputs": {}}

    def _run_stop(self) -> threading.Event:
        """A fresh stop event for the run about to start (``stop()`` sets it), already set when ``stop()``
        came while the file or group was opening."""
        self._file_stop = threading.Event()
        if self._stopping.is_set():
            self._file_stop.set()
        return self._file_stop

    def _model(self, input_hw: tuple[int, int], batch: int = 1) -> Model:
        """The warm model for ``input_hw`` and batches of up to ``batch`` frames, made on first use."""
        if (input_hw, batch) not in self._models:
            s = self._settings
            self._models[input_hw, batch] = load_model(
                s.model, input_hw, None, self._resources, config=self._config, classes=s.classes,
                backend=s.backend, precision=s.precision, batch=batch, threads=s.threads)
        return self._models[input_hw, batch]

    def _run_streams(self, group: StreamGroup) -> dict[str, dict]:
        imgsz, batch = self._settings.imgsz, len(group.entries)
        result = run_streams(
            group.entries, lambda sizes: self._model(network_input_hw(imgsz, shared_frame_hw(imgsz, sizes)), batch),
            StreamOutputs(group.output_dir, save=self._settings.save, track=self._settings.track,
                          count_lines=self._settings.count_lines),
            stream_options=group.options, stop=self._run_stop())
        return {stream.name: stream.entry() for stream in result.streams}

    def _process(self, item: BatchInput, segment: Segment | None) -> dict:
        os.makedirs(os.path.dirname(item.jsonl), exist_ok=True)
        started = time.perf_counter()
        names = [item.jsonl_name] if segment is None else [segment.jsonl_name]
        if self._settings.save and segment is None:
            names.append(item.video_name)
        with ExitStack() as stack:
            source = open_source(item.path) if segment is None else SegmentSource(item.path, segment.start, segment.stop)
            src = stack.enter_context(source)
            plan = plan_outputs(src, save=item.video if len(names) == 2 else None,
                                json_path=os.path.join(item.output_dir, names[0]), show=False)
            model = self._model(network_input_hw(self._settings.imgsz, src.frame_hw))
            sinks = []
            for sink in open_sinks(plan, src.fps, model.names, keep_on_failure=False):  # complete or absent
                sinks.append(sink)
                stack.push(close_callback(sink))
            runner = Runner(model, track=self._settings.track, count_lines=self._settings.count_lines)
            result = runner.run(src, sinks, stop=self._run_stop())
        if self._stopping.is_set():
            result.interrupt("stopped (Ctrl-C) before the end")
        elif result.interrupted:
            result.error = "stopped (Ctrl-C) before the end"
        result.seconds = time.perf_counter() - started  # the file's whole time, opening included
        result.outputs = {name: os.path.getsize(os.path.join(item.output_dir, name)) for name in names
                          if os.path.isfile(os.path.join(item.output_dir, name))}
        return result.entry()
