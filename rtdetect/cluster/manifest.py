"""The batch manifest, ``OUTPUT_DIR/manifest.json``: one entry per input, rewritten atomically after each
file finishes (so a killed or stopped driver leaves the manifest of what finished).

Shape::

    {"version": 1, "source": "archive/**/*.mp4", "settings": {...model, thresholds, save...},
     "files": {"2024/cam1.mp4": {"status": "done", "frames": 300, "fps": 41.7, "seconds": 7.2,
                                 "detections": 812, "frames_lost": 0, "attempts": 1, "error": null,
                                 "outputs": {"2024/cam1.jsonl": 123456, "2024/cam1.mp4": 2345678}}}}

``status``: ``done`` (every frame processed, outputs written), ``failed`` (``error`` says why: an
undecodable file, a worker that died on every attempt), ``interrupted`` (stopped by Ctrl-C; its outputs
hold the frames before the stop); for a stream list also ``lost`` (a live stream whose reconnect budget was
spent). A stream list's entries are keyed by stream name and add ``source`` (credentials redacted) and
``frames_dropped`` (stale live frames). ``outputs`` maps each output (relative to the output folder) to its
size in bytes. A file is complete, and skipped by a rerun, when its entry is ``done``, was made with the
same settings, and every output it lists exists with that size.

A manifest edited by hand is checked before use: an entry that is not of that shape (a string, ``outputs``
null, an output outside the output folder, a key missing or of the wrong type) is not trusted, so its
input is redone (``damaged`` names them);
a manifest that is not a JSON object with a ``files`` object is refused (``ManifestError``) rather than
silently replaced.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..atomic import atomic_write_bytes
from ..errors import OutputError
from ..run.result import DONE, FAILED, INTERRUPTED, LOST, STATUSES  # noqa: F401 (the statuses, re-exported)

MANIFEST_NAME = "manifest.json"
VERSION = 1


class ManifestError(OutputError):
    """The output folder's manifest cannot be read as one (bad JSON, not an object, no ``files`` object)."""


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _inside(name: object) -> bool:
    """Whether ``name`` is a path relative to the output folder that stays inside it."""
    if not isinstance(name, str) or not name or os.path.isabs(name):
        return False
    parts = os.path.normpath(name).split(os.sep)
    return ".." not in parts and parts != ["."]


def valid_entry(entry: object) -> bool:
    """Whether ``entry`` has the shape :meth:`Manifest.complete` relies on: a known ``status``, a ``settings``
    object, ``outputs`` mapping names inside the output folder to sizes in bytes, and counts (``frames``,
    ``attempts``) that are counts where present."""
    if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
        return False
    outputs = entry.get("outputs")
    return (isinstance(entry.get("settings"), dict) and isinstance(outputs, dict)
            and all(_inside(name) and _count(size) for name, size in outputs.items())
            and all(_count(entry[key]) for key in ("frames", "attempts") if key in entry))


@dataclass
class Manifest:
    """The manifest of ``output_dir``; ``files`` maps an input's key to its entry (see the module doc)."""

    output_dir: str
    source: str
    settings: dict
    files: dict[str, dict] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    written: bool = False  # whether this run has written the file

    @property
    def path(self) -> str:
        return os.path.join(self.output_dir, MANIFEST_NAME)

    @classmethod
    def load(cls, output_dir: str, source: str, settings: dict) -> "Manifest":
        """The manifest for a run of ``settings``: the earlier entries kept when a manifest exists (entries of
        other settings stay, but never count as complete; ``damaged`` lists the keys of entries not of the
        manifest's shape, never complete either). ManifestError when the file is not a manifest at all."""
        manifest = cls(output_dir, source, settings)
        try:
            with open(manifest.path, "rb") as handle:
                earlier = json.loads(handle.read())
        except FileNotFoundError:
            return manifest
        except OSError as exc:
            raise ManifestError(f"cannot read {manifest.path}: {exc.strerror}") from None
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, or nested too deep
            raise ManifestError(f"{manifest.path} is not valid JSON ({exc}); repair it, or move it away to redo "
                                f"every input") from None
        files = earlier.get("files") if isinstance(earlier, dict) else None
        if not isinstance(files, dict):
            raise ManifestError(f"{manifest.path} is not an rtdetect manifest (no \"files\" object); repair it, "
                                f"or move it away to redo every input")
        manifest.files = files
        manifest.damaged = sorted(key for key, entry in files.items() if not valid_entry(entry))
        return manifest

    def complete(self, key: str) -> bool:
        """Whether ``key``'s outputs are complete (see the module doc)."""
        entry = self.files.get(key)
        if not valid_entry(entry) or entry["status"] != DONE or entry["settings"] != self.settings:
            return False
        for name, size in entry["outputs"].items():
            path = os.path.join(self.output_dir, name)
            if not os.path.isfile(path) or os.path.getsize(path) != size:
                return False
        return True

    def record(self, key: str, entry: dict) -> None:
        """Set ``key``'s entry (stamped with this run's settings) and rewrite the manifest atomically."""
        self.files[key] = {**entry, "settings": self.settings}
        self.save()

    def save(self) -> None:
        document = {"version": VERSION, "source": self.source, "settings": self.settings, "files": self.files}
        atomic_write_bytes(self.path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode())
        self.written = True
