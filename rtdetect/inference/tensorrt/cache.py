"""The engine cache: one key per thing that matters, pure engine files, sidecar JSON, atomic writes.

Layout under ``cache_root()/engines/`` (``$RTDETECT_CACHE``, else ``$XDG_CACHE_HOME/rtdetect``, else
``~/.cache/rtdetect``)::

    <model>-<precision>-<H>x<W>-b<batch>-<digest>.engine   the serialised plan, nothing else (trtexec reads it)
    <model>-<precision>-<H>x<W>-b<batch>-<digest>.json     sidecar: key, model metadata, plan hash and size
    timing-<trt>-<gpu>-sm<cc>.cache                       TensorRT timing cache, shared by every build
    onnx/                                                 derived ONNX files (fp16, Q/DQ int8)

The engine is written first and the sidecar last, each through a temporary file and ``os.replace``, so a
sidecar exists only beside a complete engine. ``validate`` checks the sidecar (readable, same schema, same
key) and the engine (same size and SHA-256 as recorded); TensorRT's own deserialisation is the final check
(see :mod:`rtdetect.inference.tensorrt.runner`). Anything that fails is reported and rebuilt, never trusted.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from ...atomic import FileLock, atomic_write_bytes, lock_path
from ...config import cache_root
from ...models.cache import file_sha256

SCHEMA = 1  # bump when the key, the sidecar or the way engines are built changes meaning
DIGEST_CHARS = 20


def engines_dir(cache_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The engine folder: ``cache_dir/engines`` (``cache_dir`` defaults to :func:`cache_root`)."""
    return (Path(cache_dir) if cache_dir is not None else cache_root(environ)) / "engines"


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on. Any field that changes gives another digest, hence another file.

    onnx_sha256: content hash of the source ONNX; trt_version: ``tensorrt.__version__``; gpu_name and
    compute_capability: the build device; precision: fp32 | fp16 | int8; input_name and shape_min /
    shape_opt / shape_max: the optimisation profile (NCHW; min == max for a static engine), which fixes
    imgsz and batch; calibration: fingerprint of the calibration frames ("" unless int8);
    schema: :data:`SCHEMA`.
    """

    onnx_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: str
    input_name: str
    shape_min: tuple[int, ...]
    shape_opt: tuple[int, ...]
    shape_max: tuple[int, ...]
    calibration: str = ""
    schema: int = SCHEMA

    def to_dict(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "EngineKey":
        """Inverse of ``to_dict``; raises KeyError/TypeError/ValueError on a malformed mapping."""
        values = {}
        for f in dataclasses.fields(cls):
            value = data[f.name]
            values[f.name] = tuple(int(v) for v in value) if isinstance(value, list) else value
        return cls(**values)

    def digest(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]

    @property
    def imgsz(self) -> tuple[int, int]:
        return int(self.shape_max[2]), int(self.shape_max[3])

    @property
    def batch(self) -> int:
        return int(self.shape_max[0])


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class EnginePaths:
    """Where one engine lives. ``engine``: pure plan bytes; ``sidecar``: its JSON; ``key``: what it is;
    ``built``: True when this call built it, False when it came from the cache."""

    engine: Path
    sidecar: Path
    key: EngineKey
    built: bool = False


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (GPU names, model stems)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def engine_paths(folder: Path, stem: str, key: EngineKey) -> EnginePaths:
    h, w = key.imgsz
    base = f"{slug(stem)}-{key.precision}-{h}x{w}-b{key.batch}-{key.digest()}"
    return EnginePaths(folder / f"{base}.engine", folder / f"{base}.json", key)


def timing_cache_path(folder: Path, trt_version: str, gpu_name: str, capability: tuple[int, int]) -> Path:
    """One timing cache per TensorRT version and GPU (TensorRT refuses a cache from another device)."""
    return folder / f"timing-{slug(trt_version)}-{slug(gpu_name)}-sm{capability[0]}{capability[1]}.cache"



def write_engine(paths: EnginePaths, plan: bytes, metadata: Mapping[str, str], extra: Mapping | None = None) -> None:
    """Store ``plan`` (the serialised engine) and then its sidecar, both atomically."""
    atomic_write_bytes(paths.engine, plan)
    sidecar = {
        "schema": SCHEMA,
        "digest": paths.key.digest(),
        "key": paths.key.to_dict(),
        "engine_bytes": len(plan),
        "engine_sha256": hashlib.sha256(plan).hexdigest(),
        "metadata": dict(metadata),
        **(dict(extra) if extra else {}),
    }
    atomic_write_bytes(paths.sidecar, (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())


def read_sidecar(path: Path) -> dict:
    """The sidecar as a dict; raises OSError or ValueError when it is missing or unreadable."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("sidecar is not a JSON object")
    return data


def validate(paths: EnginePaths) -> str | None:
    """None when the cached engine may be used; otherwise why not (for the report on stderr)."""
    if not paths.engine.is_file():
        return "no cached engine"
    try:
        sidecar = read_sidecar(paths.sidecar)
    except (OSError, ValueError) as exc:
        return f"sidecar {paths.sidecar.name} unreadable ({exc})"
    if sidecar.get("schema") != SCHEMA:
        return f"sidecar schema {sidecar.get('schema')!r} is not {SCHEMA}"
    try:
        stored = EngineKey.from_dict(sidecar["key"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"sidecar key malformed ({exc!r})"
    if stored != paths.key:
        fields = dataclasses.fields(EngineKey)
        changed = [f.name for f in fields if getattr(stored, f.name) != getattr(paths.key, f.name)]
        return f"sidecar key differs in {', '.join(changed)}"
    if paths.engine.stat().st_size != sidecar.get("engine_bytes"):
        return "engine file size differs from the sidecar (truncated or replaced)"
    if file_sha256(paths.engine) != sidecar.get("engine_sha256"):
        return "engine file hash differs from the sidecar (corrupt or replaced)"
    return None


def discard(paths: EnginePaths) -> None:
    """Remove a bad cached engine and its sidecar (sidecar first: it is the commit marker)."""
    for path in (paths.sidecar, paths.engine):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def build_lock(paths: EnginePaths) -> Iterator[None]:
    """Exclusive lock on the engine's lock file so that concurrent processes build one engine once
    (``rtdetect.atomic.FileLock``: removed on release; a no-op where ``fcntl`` is missing)."""
    paths.engine.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path(paths.engine)):
        yield
