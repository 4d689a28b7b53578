"""A stream list (``--source streams.txt``) and the name each stream's outputs go under.

The list has one source per line (a stream URL, a camera index, ``demo``, or a video file: relative paths
are read from the list's own folder); blank lines and lines starting with ``#`` are ignored. A line given
twice is an error (two runs of one camera would write one folder twice).

Each stream gets a name that is stable (the same line gives the same name on every run), safe as a folder
name, unique within the list, and never holds a secret: a URL's name is built from its host, port and path
only (user, password and query are left out); a file's from its name without the extension.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

from ..capture import DEMO
from ..capture.redact import redact_url
from ..errors import SourceError

LIST_EXTENSION = ".txt"
MAX_NAME = 80
RESERVED_NAMES = frozenset({"manifest.json"})  # the batch manifest lives beside the streams' folders
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StreamEntry:
    """One line of the list: ``spec`` (what ``open_source`` opens; may hold credentials, never shown),
    ``name`` (the folder of its outputs, safe to show) and ``line`` (1-based)."""

    spec: str
    name: str
    line: int

    @property
    def shown(self) -> str:
        """The source as messages show it (credentials redacted)."""
        return redact_url(self.spec)


def is_stream_list(source: str) -> bool:
    """Whether ``--source`` names a stream list (a ``.txt`` file)."""
    return str(source).lower().endswith(LIST_EXTENSION)


def stream_name(spec: str) -> str:
    """The name for ``spec`` before it is made unique: ``rtsp://u:p@cam1.local:554/live/ch1?token=x`` →
    ``cam1.local_554_live_ch1``; ``/data/cam 2.mp4`` → ``cam_2``; ``0`` → ``camera0``."""
    spec = spec.strip()
    if "://" in spec:
        try:
            parts = urlsplit(spec)
            base = "_".join(p for p in (parts.hostname or "", str(parts.port or ""), parts.path.strip("/")) if p)
        except ValueError:  # a malformed host or port: nothing of it is trusted
            base = ""
    elif spec.isdigit() or spec == "webcam":
        base = f"camera{spec if spec.isdigit() else 0}"
    else:
        base = os.path.splitext(os.path.basename(spec.rstrip("/" + os.sep)))[0]
    name = _UNSAFE.sub("_", base).strip("._-")[:MAX_NAME].rstrip("._-")
    return name or "stream"


def unique_names(specs: Iterable[str]) -> list[str]:
    """:func:`stream_name` of each spec, with ``-2``, ``-3``... added where a name is taken already."""
    taken: set[str] = set(RESERVED_NAMES)
    names = []
    for spec in specs:
        base = name = stream_name(spec)
        count = 1
        while name in taken:
            count += 1
            name = f"{base}-{count}"
        taken.add(name)
        names.append(name)
    return names


def _resolve(spec: str, folder: str) -> str:
    """A relative file path in the list is relative to the list's folder; anything else is kept."""
    if "://" in spec or spec.isdigit() or spec in ("webcam", DEMO) or os.path.isabs(spec):
        return spec
    return os.path.normpath(os.path.join(folder, spec))


def read_stream_list(path: str) -> list[StreamEntry]:
    """The entries of the list file at ``path``; SourceError (one line) when it is missing, unreadable,
    lists nothing, or lists a source twice."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise SourceError(f"--source {path}: stream list not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"--source {path}: cannot read the stream list ({getattr(exc, 'strerror', None) or exc})") from None
    folder = os.path.dirname(os.path.abspath(path))
    specs, lines, seen = [], [], {}
    for number, raw in enumerate(text.splitlines(), start=1):
        spec = raw.strip()
        if not spec or spec.startswith("#"):
            continue
        spec = _resolve(spec, folder)
        if spec in seen:
            raise SourceError(f"--source {path}: line {number} repeats line {seen[spec]} ({redact_url(spec)})")
        seen[spec] = number
        specs.append(spec)
        lines.append(number)
    if not specs:
        raise SourceError(f"--source {path}: the stream list is empty (one source per line; blank lines and "
                          f"# comments are ignored)")
    return [StreamEntry(spec, name, line) for spec, name, line in zip(specs, unique_names(specs), lines)]
