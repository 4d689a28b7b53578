"""The conversion cache: where converted ONNX files live, their keys, and safe concurrent writes."""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..config import CACHE_ENV, cache_root
from .errors import ModelError


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(source_hash: str, variant: str, imgsz: Sequence[int], version: str) -> str:
    """A short key that changes whenever the source bytes, variant, size or rtdetect change."""
    text = f"{source_hash}|{variant}|{imgsz[0]}x{imgsz[1]}|{version}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (no-op where fcntl is missing: the atomic
    rename of the finished file still keeps readers from seeing a partial file)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def build_once(target: Path, build: Callable[[Path], Path]) -> Path:
    """Return ``target``, calling ``build(target)`` first if it does not exist yet.

    ``build`` must write atomically (temp file + ``os.replace``). Concurrent callers, threads or
    processes, serialise on ``<target>.lock`` so the conversion runs once. A cache folder that cannot
    be created or written raises ModelError naming it (and ``$RTDETECT_CACHE``).
    """
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(target.with_name(target.name + ".lock")):
            if not target.is_file():
                build(target)
    except OSError as exc:
        raise ModelError(f"cannot write the model cache {target.parent}: {exc.strerror or exc}; set "
                         f"{CACHE_ENV} to a writable folder") from None
    return target
