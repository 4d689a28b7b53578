"""One input file, or one group of streams, through a warm engine: the job of each actor of a batch
(``FileWorker``), and of no one else.

A worker keeps one engine (and pipeline) per network input shape and batch for its whole life, so files
after the first pay no model load or conversion. A group of streams runs through ``rtdetect.streams``
(its frames batched into one call of the worker's engine). Outputs are the detection command's own sinks, written as
partials and renamed into place on close (``rtdetect.sinks.output``), and discarded when the file fails: a
failed file leaves no new output (an earlier one stays as it was), and a worker killed mid-file leaves only
a partial that the next writer of that target removes.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace

from ..api import class_ids_from, make_pipeline, resolve_model_path, tracking_stage
from ..sinks import close_callback
from ..capture import open_source
from ..errors import RtdetectError
from ..inference import create_engine
from ..trial_inputs import MediaFrames
from ..input_shape import Request, network_input_hw, shared_frame_hw
from ..outputs import open_sinks, plan_outputs
from ..postprocess import PostprocessConfig
from ..streams import MultiStreamRunner, StreamOutputs, StreamResult
from .inputs import BatchInput, StreamGroup
from .manifest import DONE, FAILED, INTERRUPTED
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
    segment_s: float | None = None  # cut longer videos into segments of this many seconds (JSONL only)
    threads: int = 1  # ONNX Runtime / OpenVINO threads per worker (one worker per that many CPUs)

    def as_dict(self) -> dict:
        """JSON-ready, for the manifest (``threads`` left out: it does not change the outputs)."""
        imgsz = list(self.imgsz) if isinstance(self.imgsz, tuple) else self.imgsz
        return {"model": self.model, "imgsz": imgsz, "backend": self.backend, "precision": self.precision,
                "conf": self.conf, "iou": self.iou, "max_det": self.max_det,
                "classes": list(self.classes) if self.classes else None, "save": self.save,
                **({"track": self.track} if self.track else {})}  # absent when off: older manifests still match
        # segment_s is left out too: a split file's JSONL is byte for byte the whole file's.


class FileWorker:
    """The state of one batch actor: warm pipelines, and a stop event the driver sets on Ctrl-C (the
    actor runs two threads, so ``stop`` and ``pid`` answer while ``process`` runs)."""

    def __init__(self, settings: BatchSettings) -> None:
        self._settings = settings
        self._config = PostprocessConfig(conf=settings.conf, iou=settings.iou, max_det=settings.max_det)
        self._pipelines: dict[tuple[tuple[int, int], int], object] = {}
        self._resources = ExitStack()
        self._stopping = threading.Event()
        self._file_stop = threading.Event()  # per file: Pipeline.run sets its event when a run ends

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

    def _pipeline(self, input_hw: tuple[int, int], batch: int = 1):
        """The warm pipeline for ``input_hw`` and batches of up to ``batch`` frames, made on first use."""
        if (input_hw, batch) not in self._pipelines:
            s = self._settings
            engine = create_engine(resolve_model_path(s.model, input_hw, dynamic=batch > 1), backend=s.backend,
                                   precision=s.precision, imgsz=input_hw, threads=s.threads, batch=batch,
                                   calibration=MediaFrames())
            self._resources.callback(engine.close)
            pipeline = make_pipeline(engine, self._config, self._resources, batched=batch > 1)
            if s.classes:
                pipeline.configure(replace(self._config, classes=class_ids_from(s.classes, pipeline.names)))
            self._pipelines[input_hw, batch] = pipeline
        return self._pipelines[input_hw, batch]

    def _run_streams(self, group: StreamGroup) -> dict[str, dict]:
        imgsz, batch = self._settings.imgsz, len(group.entries)
        runner = MultiStreamRunner(
            group.entries, lambda sizes: self._pipeline(network_input_hw(imgsz, shared_frame_hw(imgsz, sizes)), batch),
            StreamOutputs(group.output_dir, save=self._settings.save, track=self._settings.track),
            stream_options=group.options)
        result = runner.run(self._run_stop())
        return {stream.name: stream_entry(stream, result.seconds) for stream in result.streams}

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
            pipeline = self._pipeline(network_input_hw(self._settings.imgsz, src.frame_hw))
            sinks = []
            for sink in open_sinks(plan, src.fps, pipeline.names, keep_on_failure=False):  # complete or absent
                sinks.append(sink)
                stack.push(close_callback(sink))
            stack.enter_context(tracking_stage(pipeline, src.fps, track=self._settings.track))
            summary = pipeline.run(src, sinks, stop=self._run_stop())
        interrupted = summary.interrupted or self._stopping.is_set()
        sizes = {name: os.path.getsize(os.path.join(item.output_dir, name)) for name in names
                 if os.path.isfile(os.path.join(item.output_dir, name))}
        return {"status": INTERRUPTED if interrupted else DONE, "frames": summary.frames,
                "fps": round(summary.fps, 2), "seconds": round(time.perf_counter() - started, 3),
                "detections": summary.detections, "frames_lost": summary.frames_lost,
                "error": "stopped (Ctrl-C) before the end" if interrupted else None,
                "outputs": sizes}


def stream_entry(stream: StreamResult, seconds: float) -> dict:
    """A stream's manifest entry (see ``manifest``) from its result in a run of ``seconds``."""
    return {"status": stream.status, "source": stream.source, "frames": stream.frames,
            "fps": round(stream.frames / seconds, 2) if seconds > 0 else 0.0, "seconds": round(seconds, 3),
            "detections": stream.detections, "frames_lost": stream.frames_lost,
            "frames_dropped": stream.frames_dropped, "error": stream.error, "outputs": dict(stream.outputs)}
