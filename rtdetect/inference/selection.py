"""``--backend auto`` on the CPU: the fastest engine and precision for this machine, measured, with an
accuracy guard, and remembered.

Candidates: ONNX Runtime fp32 (the reference) and int8, and OpenVINO fp32, bf16 and int8, each OpenVINO
precision only where OpenVINO lists the capability for this CPU (``OPTIMIZATION_CAPABILITIES``: ``BF16``
needs AVX512_BF16 or AMX). INT8 is tried on every CPU, with or without VNNI: 8-bit convolutions without an
8-bit dot product saturate their 16-bit intermediates, which once made both INT8 paths lose their
detections there; the recipes now avoid it (ONNX Runtime: ``session.x64quantprecision``; OpenVINO: NNCF's
overflow fix, see :mod:`rtdetect.inference.int8`), and the accuracy guard rejects any INT8 model that still
drifts. ``--backend`` or ``--precision`` narrows the list; one candidate left is used without a trial.

The trial, on the first use of a model on a machine: ``TRIAL_FRAMES`` frames of the ``FrameSupply`` the
caller hands in (:class:`rtdetect.trial_inputs.MediaFrames`: spread over the calibration source, the bundled
demo clip unless another is given), prepared by it for the engines, run through every candidate as the
pipeline would run them (each engine with its own number of requests in flight), ``TRIAL_ROUNDS`` times
with the order alternating; a candidate's speed is its best round (ms per frame), model only. Its
detections on those frames, read by the same supply (default thresholds, masks included: this room knows
no decoder), are compared with the reference's (:mod:`rtdetect.agreement`): a
reduced precision (bf16, int8) is accepted only with F1 >= ``GUARD_F1`` at IoU >= ``GUARD_IOU`` (same
class; box and mask IoU for segmentation). The fastest accepted candidate wins. Its choice, with every
candidate's figures, is printed once on stderr and stored as JSON in ``<cache>/choices/``, keyed by the
model's content hash (not its path: the same bytes anywhere share one record, new bytes at the same path get
a new one), the input size, the CPU's name and flags, OpenVINO's capabilities, the library versions, the
calibration frames and the candidate list: a later run with the same key reads the choice instead of
measuring; any change to the key measures again. A record carries the SHA-256 of its content and is used
only when that matches and its choice is a candidate here that the guard accepted; otherwise it is
discarded with a note and the choice measured again. The trial holds the record's lock (the cache's
:class:`rtdetect.atomic.FileLock`), so two first runs do not time each other: the second waits and reads
the first's record.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..agreement import Agreement, agreement
from ..config import cache_root
from ..errors import InferenceError, ModelError
from ..hostinfo import cpu_flags, cpu_model, library_versions
from .base import FrameSupply

TRIAL_FRAMES = 6
TRIAL_ROUNDS = 2
GUARD_F1 = 0.98
GUARD_IOU = 0.9
AUTO_CALIB_FRAMES = 50  # int8 calibration frames, spread over the calibration source (the demo clip has 50)
SCHEMA = 2  # bump when the trial, the guard or the record changes meaning
LIBRARIES = ("rtdetect", "onnxruntime", "openvino", "onnx", "numpy")


@dataclass(frozen=True)
class Candidate:
    """One engine and precision ``--backend auto`` may choose."""

    backend: str
    precision: str

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}"


REFERENCE = Candidate("onnxruntime", "fp32")
CPU_CANDIDATES = (REFERENCE, Candidate("onnxruntime", "int8"), Candidate("openvino", "fp32"),
                  Candidate("openvino", "bf16"), Candidate("openvino", "int8"))


def candidates(backend: str = "auto", precision: str = "auto",
               capabilities: Sequence[str] | None = None) -> list[Candidate]:
    """The CPU candidates for ``backend`` x ``precision`` ("auto" leaves that choice open).

    Both given: exactly that pair (checked when its engine opens). Otherwise the automatic list, without
    OpenVINO precisions this CPU lacks (``capabilities``: OpenVINO's, read here when None). INT8 is a
    candidate on every CPU, with or without an 8-bit dot product (VNNI): both INT8 recipes are made not to
    saturate without it (rtdetect.inference.int8), and the guard judges the result. ``--backend onnxruntime``
    is the reference engine: its automatic precision is fp32. Raises ModelError when nothing is left (e.g.
    ``--precision bf16`` on a CPU without bfloat16)."""
    if backend != "auto" and precision != "auto":
        return [Candidate(backend, precision)]
    if backend == "onnxruntime":
        return [REFERENCE]
    from .openvino import cpu_capabilities, unsupported_reason

    caps = tuple(cpu_capabilities() if capabilities is None else capabilities)
    usable = [c for c in CPU_CANDIDATES if c.backend != "openvino" or unsupported_reason(c.precision, caps) is None]
    chosen = [c for c in usable if backend in ("auto", c.backend) and precision in ("auto", c.precision)]
    if not chosen:
        reason = unsupported_reason(precision, caps) if precision in ("bf16", "int8") else None
        raise ModelError(f"no CPU engine computes {precision} with --backend {backend} here" + (f": {reason}" if reason else ""))
    return chosen


@dataclass
class TrialResult:
    """One candidate's figures: ``status`` ok | unavailable (``reason``), ms per frame, agreement with the
    reference, and whether the guard accepted it."""

    candidate: Candidate
    status: str = "ok"
    reason: str | None = None
    ms_per_frame: float | None = None
    rounds_ms: list[float] = field(default_factory=list)
    agreement: Agreement | None = None
    accepted: bool = False

    def describe(self) -> str:
        if self.status != "ok":
            return f"{self.candidate.label}: unavailable ({self.reason})"
        verdict = "" if self.accepted else " REJECTED"
        f1 = "ref" if self.candidate == REFERENCE else (
            "n/a" if self.agreement is None or self.agreement.f1 is None else f"F1 {self.agreement.f1:.3f}")
        return f"{self.candidate.label} {self.ms_per_frame:.1f} ms {f1}{verdict}"

    def to_dict(self) -> dict:
        record = dataclasses.asdict(self)
        record["candidate"] = self.candidate.label
        return record

    @classmethod
    def from_dict(cls, data: dict) -> "TrialResult":
        """The inverse of ``to_dict``; TypeError/ValueError/KeyError for figures of the wrong kind (a record
        edited by hand)."""
        backend, precision = data["candidate"].split()
        agree = Agreement(**data["agreement"]) if data.get("agreement") else None
        ms, rounds = data.get("ms_per_frame"), list(data.get("rounds_ms") or [])
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in rounds + ([] if ms is None else [ms])):
            raise TypeError(f"{data['candidate']}: times must be numbers, got {ms!r} and {rounds!r}")
        return cls(Candidate(backend, precision), data["status"], data.get("reason"), ms, rounds, agree,
                   bool(data.get("accepted")))


def guard_accepts(candidate: Candidate, agree: Agreement | None, threshold: float = GUARD_F1) -> bool:
    """fp32 always; a reduced precision only when its detections agree with the reference's
    (F1 >= ``threshold``; no detections on either side means nothing was verified, so no)."""
    if candidate.precision == "fp32":
        return True
    return agree is not None and agree.f1 is not None and agree.f1 >= threshold


def fastest_accepted(results: Sequence[TrialResult]) -> TrialResult:
    """The accepted candidate with the fewest ms per frame."""
    accepted = [r for r in results if r.status == "ok" and r.accepted]
    if not accepted:
        raise ModelError("no CPU engine could run this model: " + "; ".join(r.describe() for r in results))
    return min(accepted, key=lambda r: r.ms_per_frame)


def run_pass(engine, tensors: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
    """Outputs of ``engine`` for every tensor, in order, keeping ``engine.max_in_flight`` requests going."""
    pending: deque = deque()
    outputs = []
    for tensor in tensors:
        pending.append(engine.submit(tensor))
        if len(pending) >= engine.max_in_flight:
            outputs.append(pending.popleft().result())
    outputs.extend(p.result() for p in pending)
    return outputs


OpenEngine = Callable[[Candidate], object]


def _open_all(cands: Sequence[Candidate], open_engine: OpenEngine, stack: ExitStack) -> tuple[dict, list[TrialResult]]:
    """Engines of the candidates that open here; the others as unavailable results (the reference must open)."""
    engines, results = {}, []
    for cand in cands:
        try:
            engine = open_engine(cand)
        except (ModelError, ImportError, OSError, RuntimeError) as exc:
            if cand == REFERENCE:
                raise
            results.append(TrialResult(cand, "unavailable", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
            continue
        stack.callback(engine.close)
        engines[cand] = engine
    return engines, results


def _time_rounds(engines: dict, tensors: list, rounds: int) -> tuple[dict, dict]:
    """Per candidate: ms per frame of each round; and, for each candidate whose engine could not run the
    model, why (the reference's failure is raised)."""
    failed: dict[Candidate, str] = {}

    def attempt(cand: Candidate, work):
        try:
            return work()
        except InferenceError as exc:
            if cand == REFERENCE:
                raise
            failed[cand] = str(exc)
            return None

    for cand, engine in engines.items():
        attempt(cand, partial(engine.infer, tensors[0]))  # warm-up, never timed
    times = {c: [] for c in engines}
    order = list(engines)
    for r in range(rounds):
        for cand in (order if r % 2 == 0 else order[::-1]):
            if cand in failed:
                continue
            start = time.perf_counter()
            outs = attempt(cand, partial(run_pass, engines[cand], tensors))
            if outs is None:
                continue
            times[cand].append((time.perf_counter() - start) * 1e3 / len(tensors))
    return times, failed


def _detections(cands: Sequence[Candidate], engines: dict, images: Sequence[np.ndarray], inputs: FrameSupply,
                failed: dict) -> dict:
    """Per candidate that ran: its Detections on ``images`` as ``inputs`` reads them; a candidate whose engine
    fails here joins ``failed`` (the reference's failure is raised)."""
    detections = {}
    for cand in cands:
        if cand not in engines or cand in failed:
            continue
        try:
            detections[cand] = inputs.detections(engines[cand], images)
        except InferenceError as exc:
            if cand == REFERENCE:
                raise
            failed[cand] = str(exc)
    return detections


def run_trial(cands: Sequence[Candidate], open_engine: OpenEngine, images: Sequence[np.ndarray],
              inputs: FrameSupply, *, rounds: int = TRIAL_ROUNDS, guard_f1: float = GUARD_F1) -> list[TrialResult]:
    """Time every candidate on ``images`` ((H, W, 3) uint8 BGR, prepared for the engines by ``inputs``) and
    check its detections (read by ``inputs``) against the reference's (``REFERENCE`` is added when missing).
    ``open_engine(candidate)`` opens an engine."""
    cands = list(cands) if REFERENCE in cands else [REFERENCE, *cands]
    with ExitStack() as stack:
        engines, results = _open_all(cands, open_engine, stack)
        ref = engines[REFERENCE]
        tensors = [inputs.prepare(image, ref.input_hw, ref.input_dtype) for image in images]
        times, failed = _time_rounds(engines, tensors, rounds)
        detections = _detections(cands, engines, images, inputs, failed)
    for cand in engines:
        if cand in failed:  # rejected with the runtime's reason, like a candidate that cannot open
            results.append(TrialResult(cand, "unavailable", failed[cand]))
            continue
        agree = agreement(detections[REFERENCE], detections[cand], GUARD_IOU)
        results.append(TrialResult(cand, "ok", None, min(times[cand]), times[cand], agree,
                                   guard_accepts(cand, agree, guard_f1)))
    return sorted(results, key=lambda r: cands.index(r.candidate))


# -- the remembered choice ---------------------------------------------------------------------------
def choices_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    return (Path(cache_dir) if cache_dir is not None else cache_root()) / "choices"


def host_key() -> dict:
    """What about this machine a measured choice depends on."""
    from .openvino import cpu_capabilities

    flags = " ".join(cpu_flags())
    return {"cpu": cpu_model(), "cpu_flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16],
            "openvino_capabilities": list(cpu_capabilities()), "libraries": library_versions(LIBRARIES)}


def trial_key(model_sha256: str, imgsz: tuple[int, int], cands: Sequence[Candidate], calibration: str,
              host: dict) -> dict:
    """The whole key of a stored choice (also written into the record, for people reading it)."""
    return {"schema": SCHEMA, "model_sha256": model_sha256, "imgsz": list(imgsz),
            "candidates": [c.label for c in cands], "calibration": calibration,
            "guard": {"f1": GUARD_F1, "iou": GUARD_IOU}, "trial": {"frames": TRIAL_FRAMES, "rounds": TRIAL_ROUNDS},
            **host}


def record_path(folder: Path, key: dict) -> Path:
    """Where the choice made under ``key`` is stored: named by the key's digest (the model's content hash is
    part of the key; its path is not)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return folder / f"{digest}.json"


def _content_sha256(record: dict) -> str:
    """SHA-256 of a record without its ``sha256`` field (keys sorted: the JSON layout does not matter)."""
    body = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_choice(path: Path, key: dict, cands: Sequence[Candidate]) -> tuple[Candidate | None, str | None]:
    """The stored choice at ``path`` and None, or None and why a record there cannot be used (None too when
    there is no record). Usable: its checksum matches, it was made under ``key``, and its choice is one of
    ``cands`` whose stored result the accuracy guard accepted (checked again with today's rule)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"it cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(record, dict) or record.get("sha256") != _content_sha256(record):
        return None, "its checksum does not match: it is damaged or was edited"
    if record.get("key") != key:
        return None, "it was made under another key"
    try:
        results = [TrialResult.from_dict(r) for r in record["results"]]
        backend, precision = record["choice"].split()
    except (KeyError, TypeError, ValueError, AttributeError):
        return None, "its content is not a choice record"
    chosen = Candidate(backend, precision)
    if chosen not in cands:
        return None, f"its choice {chosen.label} is not a candidate here ({', '.join(c.label for c in cands)})"
    accepted = [r for r in results if r.candidate == chosen and r.status == "ok" and r.accepted
                and guard_accepts(chosen, r.agreement)]
    if not accepted:
        return None, f"its choice {chosen.label} was not accepted by the accuracy guard"
    return chosen, None


def write_choice(path: Path, key: dict, model_path: str, chosen: TrialResult, results: Sequence[TrialResult]) -> None:
    """Store the choice with every candidate's figures and the record's own SHA-256, atomically."""
    from ..atomic import atomic_write_bytes

    record = {"key": key, "model": Path(model_path).name, "choice": chosen.candidate.label,
              "results": [r.to_dict() for r in results], "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record["sha256"] = _content_sha256(record)
    atomic_write_bytes(path, (json.dumps(record, indent=2) + "\n").encode())


@contextmanager
def trial_lock(path: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock of the record at ``path`` while measuring: a second first run waits (saying for whom),
    then finds the first one's record."""
    from ..atomic import FileLock, LockedError, lock_path

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(path))
    try:
        lock.acquire(wait=False)
    except LockedError as busy:
        owner = f"PID {busy.holder}" if busy.holder else "another rtdetect run"
        log(f"rtdetect: auto: waiting for {owner}, which is measuring the engines for this model")
        lock.acquire(wait=True)
    try:
        yield
    finally:
        lock.release()


def choice_line(model_path: str, chosen: TrialResult, results: Sequence[TrialResult]) -> str:
    """The one stderr line that reports a measured choice."""
    agree = "reference" if chosen.candidate == REFERENCE else chosen.agreement.describe()
    others = "; ".join(r.describe() for r in results)
    return (f"rtdetect: auto: {chosen.candidate.label} for {Path(model_path).name} on this CPU, "
            f"{chosen.ms_per_frame:.1f} ms/frame, agreement with {REFERENCE.label}: {agree} [measured: {others}]")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def select_candidate(model_path: str, *, open_engine: OpenEngine, imgsz: tuple[int, int],
                     calibration: FrameSupply | None, backend: str = "auto", precision: str = "auto",
                     cache_dir: str | os.PathLike | None = None, host: dict | None = None,
                     log: Callable[[str], None] = _stderr) -> Candidate:
    """The engine and precision to run ``model_path`` with on this CPU: the only candidate left by
    ``backend``/``precision``, or the stored choice for this key, or a fresh trial on ``TRIAL_FRAMES`` frames
    of ``calibration`` (stored, and reported through ``log`` in one line; ModelError when a trial is needed
    and no frames were given). ``host`` overrides :func:`host_key` (tests)."""
    from ..models.cache import file_sha256
    from .onnx_tools.calibration import calibration_fingerprint

    if not os.path.isfile(model_path):
        raise ModelError(f"model file not found: {model_path}")
    cands = candidates(backend, precision, None if host is None else host.get("openvino_capabilities"))
    if len(cands) == 1:
        return cands[0]
    if calibration is None:
        raise ModelError("choosing among " + ", ".join(c.label for c in cands) + " needs frames to measure on "
                         "(calibration=, e.g. rtdetect.trial_inputs.MediaFrames())")
    key = trial_key(file_sha256(model_path), imgsz, cands,
                    calibration_fingerprint(calibration.identity(), AUTO_CALIB_FRAMES, imgsz, "auto"),
                    host or host_key())
    path = record_path(choices_dir(cache_dir), key)
    stored, _ = read_choice(path, key, cands)
    if stored is not None:
        return stored
    with trial_lock(path, log):
        stored, problem = read_choice(path, key, cands)  # measured by the run we waited for, or still unusable
        if stored is not None:
            return stored
        if problem is not None:
            log(f"rtdetect: auto: the stored choice {path} is not used ({problem}); measuring again")
        log("rtdetect: auto: measuring the CPU engines once for this model and machine")
        results = run_trial(cands, open_engine, list(calibration.frames(TRIAL_FRAMES)), calibration)
        chosen = fastest_accepted([r for r in results if r.candidate in cands])
        write_choice(path, key, model_path, chosen, results)
    log(choice_line(model_path, chosen, results))
    return chosen.candidate
