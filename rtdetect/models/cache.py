"""The conversion cache: where converted ONNX files live, their keys, safe concurrent writes, and checksums.

Every model file built into the cache (converted ONNX, fp16 and int8 variants) gets its SHA-256 written
beside it, in ``sha256sum`` format, as ``NAME.sha256`` (both files written atomically). A cached file is
verified against it before each use; one that is damaged or truncated, or has no checksum (a crash between
the two writes), is rebuilt with a one-line note instead of being used.
"""
from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

from ..atomic import FileLock, atomic_write_bytes, lock_path, remove_stale_partials
from ..config import CACHE_ENV
from ..notes import note
from .errors import ModelError


# What the exported bytes depend on besides the checkpoint: the conversion code (every module of this
# package: unpickling, model building, fusing, the export itself) and the libraries that trace and write it.
_EXPORT_LIBRARIES = ("torch", "onnx", "onnxscript")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def exporter_version(package_dir: Path | None = None) -> str:
    """What changes a conversion's output besides its inputs: a SHA-256 of the source of every
    ``rtdetect.models`` module (``package_dir``, default this package's folder) and the versions of
    the export libraries. Hashing the code itself, not a version constant, means an edit to the
    converter can never silently reuse a conversion made by the code before it."""
    digest = hashlib.sha256()
    for path in sorted(Path(package_dir or Path(__file__).parent).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    libraries = []
    for name in _EXPORT_LIBRARIES:
        try:
            libraries.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            libraries.append(f"{name} absent")
    return f"code {digest.hexdigest()[:16]}; " + "; ".join(libraries)


def cache_key(source_hash: str, variant: str, imgsz: Sequence[int], version: str) -> str:
    """A short key that changes whenever the source bytes, variant, size or ``version`` (rtdetect's
    version and :func:`exporter_version`) change."""
    text = f"{source_hash}|{variant}|{imgsz[0]}x{imgsz[1]}|{version}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checksum_path(target: Path) -> Path:
    """Where the SHA-256 of the cached ``target`` is kept: ``NAME.sha256`` beside it."""
    return target.with_name(target.name + ".sha256")


def record_checksum(target: Path) -> None:
    """Write ``target``'s SHA-256 beside it (``sha256sum -c`` can check it), atomically."""
    atomic_write_bytes(checksum_path(target), f"{file_sha256(target)}  {target.name}\n".encode())


def checksum_problem(target: Path) -> str | None:
    """Why the cached ``target`` must not be used (no recorded checksum, or a different one), or None when
    its bytes are the ones recorded when it was written."""
    try:
        recorded = checksum_path(target).read_text(encoding="ascii").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return "it has no recorded checksum"
    if file_sha256(target) != recorded:
        return "its checksum does not match: the file is damaged or truncated"
    return None


def build_once(target: Path, build: Callable[[Path], Path]) -> Path:
    """Return ``target``, calling ``build(target)`` first if it does not exist yet or fails its checksum
    (see the module docstring; a damaged file is rebuilt with a note on stderr).

    ``build`` must write atomically (``rtdetect.atomic.atomic_path``). Concurrent callers, threads or
    processes, serialise on the target's lock file (removed again afterwards, a failed build included) so
    the conversion runs once. Partials left in the folder by killed conversions are removed first.
    A cache folder that cannot be created or written raises ModelError naming it (and ``$RTDETECT_CACHE``).
    """
    try:
        remove_stale_partials(target.parent)
        if target.is_file() and checksum_problem(target) is None:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock_path(target)):
            if target.is_file():  # built while we waited, or damaged
                problem = checksum_problem(target)
                if problem is None:
                    return target
                note(f"the cached model {target} is not used ({problem}); rebuilding it")
            build(target)
            record_checksum(target)
    except OSError as exc:
        raise ModelError(f"cannot write the model cache {target.parent}: {exc.strerror or exc}; set "
                         f"{CACHE_ENV} to a writable folder") from None
    return target
