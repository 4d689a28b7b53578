"""The batch driver: connect to Ray, keep a pool of warm actors busy, retry files whose actor died, record
every finished file in the manifest, and stop cleanly on Ctrl-C.

A stream list (``--source streams.txt``, see ``rtdetect.streams``) is dealt into one group per actor; each
group is one job, run by its actor through its one engine, and each stream gets its own manifest entry (keyed
by its name). A group whose actor died is restarted on another actor like a file.

Nothing lost, nothing twice: each file is in flight on at most one actor at a time. An actor that dies
(killed, out of memory, its node lost) surfaces as ``RayActorError`` on that file's result: the actor is
replaced and the file goes back to the front of the queue, up to ``MAX_ATTEMPTS`` times. Its outputs are
renamed into place only when a run of it ends, so the dead attempt left none (see ``worker``), and the
manifest gets one entry per file. A stop signal tells every actor to end its file after the frame in hand;
the driver waits for them, records what they did (``interrupted``) and ends with 128 + the signal; an actor
still busy ``stop_grace_s`` (``--stop-grace``, default ``options.DEFAULT_STOP_GRACE_S``) after the stop is ended and its job recorded ``interrupted`` with no output.

One batch at a time per output folder: the driver holds the lock of the folder's manifest
(``rtdetect.atomic``) from before the manifest is read until the run ends, so a second run is refused before
Ray starts rather than racing the first for its files and manifest.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from ..capture import StreamOptions
from ..errors import RtdetectError
from ..files import check_output_dir
from ..notes import note
from ..options import DEFAULT_STOP_GRACE_S
from ..signals import SignalStop
from ..sinks.output import hold_lock
from ..streams import is_stream_list, read_stream_list
from . import import_ray
from .inputs import BatchInput, StreamGroup, batch_inputs, stream_groups
from .manifest import DONE, FAILED, INTERRUPTED, LOST, MANIFEST_NAME, Manifest
from .segments import Segment, joined_entry, plan_segments, remove_parts
from .worker import BatchSettings, FileWorker

MAX_ATTEMPTS = 3
WAIT_S = 0.2          # how often the driver looks at a stop signal while files run


@dataclass(frozen=True)
class Job:
    """One unit of work: a file, or one segment of it, or a group of streams, and which attempt this is."""

    item: BatchInput | StreamGroup
    segment: Segment | None = None
    attempt: int = 1


@dataclass
class _Split:
    """A file cut into segments, and its segments' entries as they come back."""

    segments: list[Segment]
    entries: dict[int, dict] = field(default_factory=dict)


@dataclass
class BatchResult:
    """What a batch did: counts per status, inputs (files or streams: ``unit``) skipped as complete, frames,
    wall time, the manifest (and whether this run wrote it), and the stop signal's number when one ended it."""

    manifest: str
    total: int
    skipped: int = 0
    unit: str = "file"
    counts: dict[str, int] = field(default_factory=lambda: {DONE: 0, FAILED: 0, INTERRUPTED: 0, LOST: 0})
    failures: list[tuple[str, str]] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    frames: int = 0
    seconds: float = 0.0
    actors: int = 0
    signum: int | None = None
    manifest_written: bool = False


def connect(ray, cluster: str) -> None:
    """``local``: start Ray on this machine for this run; ``auto``: the cluster this machine belongs to
    (``ray start``); ``ray://HOST:PORT`` (Ray Client) or ``HOST:PORT`` (the head's GCS address)."""
    # address="local" starts a new instance even where `ray start` already runs one on this machine.
    kwargs = {"include_dashboard": False} if cluster == "local" else {}
    try:
        ray.init(address=cluster, namespace="rtdetect", log_to_driver=False, logging_level="ERROR", **kwargs)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError... here
        raise RtdetectError(f"--cluster {cluster}: cannot start or reach Ray: {exc}") from None


@dataclass(frozen=True)
class ActorShape:
    """What each actor asks Ray for: ``cpus`` (its engine's threads, or one beside a GPU) and ``gpus`` (1 when
    its engine runs on a GPU: Ray then gives each actor a GPU of its own through CUDA_VISIBLE_DEVICES)."""

    cpus: int
    gpus: int = 0


def actor_shape(resources: dict, settings: BatchSettings) -> ActorShape:
    """One GPU per actor where the engine runs on GPUs (``--backend tensorrt``, or ``auto`` on a cluster that
    has GPUs: TensorRT is auto's first choice where the GPU path starts); else ``settings.threads`` CPUs.
    ``resources``: Ray's ``cluster_resources()``. RtdetectError for ``tensorrt`` on a cluster without GPUs."""
    gpus = resources.get("GPU", 0)
    if settings.backend == "tensorrt" and gpus < 1:
        raise RtdetectError("--backend tensorrt: the cluster has no GPUs (start Ray's nodes with their GPUs, "
                            "or use a CPU backend)")
    if settings.backend in ("tensorrt", "auto") and gpus >= 1:
        return ActorShape(cpus=1, gpus=1)
    return ActorShape(cpus=settings.threads)


def pool_size(resources: dict, requested: int | None, shape: ActorShape, jobs: int) -> int:
    """``requested`` actors, else one per GPU (GPU actors) or per ``shape.cpus`` CPUs of the cluster; never
    more than ``jobs``. RtdetectError when no node could hold one actor (it would wait forever)."""
    cpus = resources.get("CPU", 0)
    if shape.cpus > cpus:
        raise RtdetectError(f"--threads {shape.cpus}: the cluster has {cpus:g} CPUs in all")
    if requested is None:
        requested = int(resources.get("GPU", 0)) if shape.gpus else int(cpus // shape.cpus)
    return max(1, min(requested, jobs))


class _Pool:
    """The actors, each with at most one file in flight; a dead one is replaced in its slot."""

    def __init__(self, ray, settings: BatchSettings, shape: ActorShape, size: int) -> None:
        self._ray = ray
        self._remote = ray.remote(FileWorker)
        self._settings = settings
        self._shape = shape
        self._made = 0
        self.actors = [self._new_actor() for _ in range(size)]
        self.inflight: dict = {}  # ObjectRef → (slot, Job)

    def _new_actor(self):
        # Named, so that an operator (or a test) can find and kill one; two threads: stop() while process().
        self._made += 1
        return self._remote.options(num_cpus=self._shape.cpus, num_gpus=self._shape.gpus, max_concurrency=2,
                                    name=f"rtdetect-batch-{os.getpid()}-{self._made}").remote(self._settings)

    def idle_slots(self) -> list[int]:
        busy = {slot for slot, _ in self.inflight.values()}
        return [slot for slot in range(len(self.actors)) if slot not in busy]

    def submit(self, slot: int, job: "Job") -> None:
        actor = self.actors[slot]
        if isinstance(job.item, StreamGroup):
            ref = actor.process_streams.remote(job.item)
        else:
            ref = actor.process.remote(job.item, job.segment)
        self.inflight[ref] = (slot, job)

    def replace(self, slot: int) -> None:
        self.actors[slot] = self._new_actor()

    def stop(self) -> None:
        for actor in self.actors:
            actor.stop.remote()

    def close(self) -> None:
        """Free the engines where the actors still answer, then end the actors."""
        try:
            self._ray.get([actor.close.remote() for actor in self.actors], timeout=30)
        except Exception:  # noqa: BLE001 - a dead or stuck actor: it is killed below either way
            pass
        for actor in self.actors:
            self._ray.kill(actor)


def run_batch(*, source: str, output_dir: str, settings: BatchSettings, cluster: str = "local",
              actors: int | None = None, progress: bool = True,
              stream_options: StreamOptions | None = None, stop_grace_s: float = DEFAULT_STOP_GRACE_S) -> BatchResult:
    """Process every file ``source`` names, or every stream of the stream list ``source`` (with
    ``stream_options``), into ``output_dir`` (see ``inputs``, ``manifest``); inputs the manifest shows
    complete are skipped. The output folder is locked for the whole run (a second run on it is refused
    before Ray starts). Raises RtdetectError for a bad source, output folder, manifest or cluster."""
    inputs, key_of, unit = _inputs(source, output_dir)
    lock = hold_lock(os.path.join(output_dir, MANIFEST_NAME), output_dir, "another --output-dir")
    try:
        manifest = Manifest.load(output_dir, source, recorded_settings(settings))
        if manifest.damaged:
            _note_damaged(manifest)
        todo = [item for item in inputs if not manifest.complete(key_of(item))]
        result = BatchResult(manifest.path, len(inputs), skipped=len(inputs) - len(todo), unit=unit)
        if todo:
            _run_on_ray(todo, output_dir, settings, cluster, actors, progress, stream_options, manifest, result,
                        stop_grace_s)
        result.manifest_written = manifest.written
        return result
    finally:
        lock.release()


def recorded_settings(settings: BatchSettings) -> dict:
    """What the manifest records of ``settings`` (a change redoes the files): ``BatchSettings.as_dict`` and,
    for a model given as a file (.onnx, .pt), the SHA-256 of its bytes: a file replaced at the same path
    is another model. A zoo name stands for itself."""
    record = settings.as_dict()
    if os.path.isfile(settings.model):
        from ..models.cache import file_sha256

        record["model_sha256"] = file_sha256(settings.model)
    return record


def _run_on_ray(todo: list, output_dir: str, settings: BatchSettings, cluster: str, actors: int | None,
                progress: bool, stream_options: StreamOptions | None, manifest: Manifest,
                result: BatchResult, stop_grace_s: float) -> None:
    """Connect to Ray, run ``todo`` on a pool of actors and record each input in ``manifest`` and ``result``."""
    ray = import_ray()
    started = time.perf_counter()
    connect(ray, cluster)
    try:
        shape = actor_shape(ray.cluster_resources(), settings)
        queue, splits, size = _plan(ray, todo, result.unit, settings, shape, actors, output_dir, stream_options)
        pool = _Pool(ray, settings, shape, size)
        result.actors = len(pool.actors)
        try:
            with SignalStop() as signals, signals.finishing() as stop:
                _drive(ray, pool, queue, splits, manifest, result, stop,
                       _progress_bar(result.total, result.skipped, progress, result.unit), stop_grace_s)
            result.signum = signals.signum
        finally:
            pool.close()
            for key, split in splits.items():  # stopped before all its segments were back: no parts stay
                if key not in result.recorded:
                    remove_parts(output_dir, split.segments)
    finally:
        ray.shutdown()
    result.seconds = time.perf_counter() - started


def _note_damaged(manifest: Manifest, shown: int = 10) -> None:
    """One line naming the manifest's entries that are not valid (the first ``shown`` of them)."""
    keys = manifest.damaged
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    note(f"{manifest.path}: {len(keys)} entries not valid, not trusted (their inputs are redone and the entries "
         f"replaced): {', '.join(map(repr, keys[:shown]))}{more}")


def _inputs(source: str, output_dir: str) -> tuple[list, Callable, str]:
    """The inputs of ``source`` (files, or the streams of a stream list), each one's manifest key, the unit."""
    if is_stream_list(source):
        check_output_dir(output_dir)
        return read_stream_list(source), (lambda entry: entry.name), "stream"
    return batch_inputs(source, output_dir), (lambda item: item.key), "file"


def _plan(ray, todo: list, unit: str, settings: BatchSettings, shape: ActorShape, actors: int | None,
          output_dir: str, stream_options: StreamOptions | None) -> tuple[deque, dict[str, _Split], int]:
    """The job queue, the split files and the pool size: streams dealt into one group per actor; files
    one job each (or one per segment)."""
    if unit == "stream":
        size = pool_size(ray.cluster_resources(), actors, shape, len(todo))
        return deque(Job(group) for group in stream_groups(todo, size, output_dir, stream_options)), {}, size
    queue, splits = _jobs(todo, settings.segment_s)
    return queue, splits, pool_size(ray.cluster_resources(), actors, shape, len(queue))


def _jobs(todo: list[BatchInput], segment_s: float | None) -> tuple[deque, dict[str, _Split]]:
    """The queue of jobs (a file, or each segment of a file longer than ``segment_s``) and the splits."""
    queue, splits = deque(), {}
    for item in todo:
        segments = plan_segments(item.path, item.jsonl_name, segment_s) if segment_s else []
        if segments:
            splits[item.key] = _Split(segments)
            queue.extend(Job(item, segment) for segment in segments)
        else:
            queue.append(Job(item))
    return queue, splits


def _progress_bar(total: int, done: int, enabled: bool, unit: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit=unit, dynamic_ncols=True, file=sys.stderr)


def _drive(ray, pool: _Pool, queue: deque, splits: dict[str, _Split], manifest: Manifest, result: BatchResult,
           stop, bar, stop_grace_s: float) -> None:
    """Keep every actor busy until the queue is empty, or a stop; then wait ``stop_grace_s`` at most for the
    files in flight."""
    deadline = None
    try:
        while pool.inflight or (queue and deadline is None):
            if stop.is_set() and deadline is None:
                pool.stop()
                deadline = time.monotonic() + stop_grace_s
            if deadline is None:
                for slot in pool.idle_slots():
                    if queue:
                        pool.submit(slot, queue.popleft())
            elif time.monotonic() > deadline:
                _record_unfinished(pool, splits, manifest, result, bar, stop_grace_s)
                break
            ready, _ = ray.wait(list(pool.inflight), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                entry, job = _outcome(ray, pool, ref, queue)
                if entry is not None:
                    _record_all(job, entry, splits, manifest, result, bar)
    finally:
        if bar is not None:
            bar.close()


def _outcome(ray, pool: _Pool, ref, queue: deque) -> tuple[dict | None, Job]:
    """The entry of the job ``ref`` computed (a group's: each stream's entry by name), or None when its actor
    died and the job went back in the queue."""
    slot, job = pool.inflight.pop(ref)
    try:
        entry = ray.get(ref)
    except ray.exceptions.RayActorError as exc:
        pool.replace(slot)
        if job.attempt < MAX_ATTEMPTS:
            queue.appendleft(Job(job.item, job.segment, job.attempt + 1))
            return None, job
        entry = _ended(job, FAILED, f"its worker died on each of {job.attempt} attempts (last: {type(exc).__name__})")
    except ray.exceptions.RayError as exc:  # e.g. the actor could not be scheduled: this job fails, not the batch
        entry = _ended(job, FAILED, f"{type(exc).__name__}: {exc}")
    return _with_attempts(job, entry), job


def _with_attempts(job: Job, entry: dict) -> dict:
    return entry if isinstance(job.item, StreamGroup) else {**entry, "attempts": job.attempt}


def _ended(job: Job, status: str, error: str) -> dict:
    """The entry of a job that ended as a whole with no output (a group's: the same entry for each stream)."""
    entry = {"status": status, "frames": 0, "outputs": {}, "error": error}
    if isinstance(job.item, StreamGroup):
        return {stream.name: {**entry, "source": stream.shown} for stream in job.item.entries}
    return entry


def _record_unfinished(pool: _Pool, splits: dict[str, _Split], manifest: Manifest, result: BatchResult,
                       bar, stop_grace_s: float) -> None:
    """After the stop's grace period: record the jobs still in flight as ``interrupted`` with no output (their
    actors are ended next, their partials removed by the next writer), so the manifest says what happened."""
    error = f"did not end within {stop_grace_s:g} s of the stop; its worker was ended"
    for _, job in pool.inflight.values():
        _record_all(job, _with_attempts(job, _ended(job, INTERRUPTED, error)), splits, manifest, result, bar)
    pool.inflight.clear()


def _record_all(job: Job, entry: dict, splits: dict[str, _Split], manifest: Manifest, result: BatchResult,
                bar) -> None:
    """Record a finished job: a file's (or segment's) entry, or each stream's entry of a group."""
    if not isinstance(job.item, StreamGroup):
        _record(job, job.item.key, entry, splits, manifest, result, bar)
        return
    for stream in job.item.entries:
        _record(job, stream.name, {**entry[stream.name], "attempts": job.attempt}, splits, manifest, result, bar)


def _record(job: Job, key: str, entry: dict, splits: dict[str, _Split], manifest: Manifest, result: BatchResult,
            bar) -> None:
    """Write a finished input's entry to the manifest (a split file's once its last segment is back)."""
    if job.segment is not None:
        split = splits[key]
        split.entries[job.segment.part] = entry
        if len(split.entries) < len(split.segments):
            return
        entry = joined_entry(job.item.output_dir, job.item.jsonl_name, split.segments,
                             [split.entries[k] for k in range(len(split.segments))])
    manifest.record(key, entry)
    result.recorded.add(key)
    result.counts[entry["status"]] += 1
    result.frames += entry["frames"]
    if entry["status"] == FAILED:
        result.failures.append((key, entry["error"]))
    if bar is not None:
        bar.update(1)
        bar.set_postfix(frames=result.frames, refresh=False)


def describe(result: BatchResult) -> list[str]:
    """The lines the command prints at the end (stderr)."""
    counts = result.counts
    lost = f"{counts[LOST]} lost, " if result.unit == "stream" else ""
    lines = [f"batch: {result.total} {result.unit}s: {counts[DONE]} done, {counts[FAILED]} failed, {lost}"
             f"{counts[INTERRUPTED]} interrupted, {result.skipped} already complete; {result.frames} frames in "
             f"{result.seconds:.2f} s on {result.actors} actors"]
    lines += [f"rtdetect: {key}: failed: {error}" for key, error in result.failures]
    if result.manifest_written:
        lines.append(f"rtdetect: wrote {result.manifest}")
    return lines
