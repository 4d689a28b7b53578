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
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..atomic import atomic_write_bytes
from ..streams.runner import DONE, FAILED, INTERRUPTED, LOST  # noqa: F401 (the statuses, re-exported)

MANIFEST_NAME = "manifest.json"
VERSION = 1


@dataclass
class Manifest:
    """The manifest of ``output_dir``; ``files`` maps an input's key to its entry (see the module doc)."""

    output_dir: str
    source: str
    settings: dict
    files: dict[str, dict] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return os.path.join(self.output_dir, MANIFEST_NAME)

    @classmethod
    def load(cls, output_dir: str, source: str, settings: dict) -> "Manifest":
        """The manifest for a run of ``settings``: the earlier entries kept when a readable manifest
        exists (entries of other settings stay, but never count as complete)."""
        manifest = cls(output_dir, source, settings)
        try:
            with open(manifest.path, encoding="utf-8") as handle:
                earlier = json.load(handle)
            manifest.files = dict(earlier.get("files", {}))
        except (OSError, ValueError, AttributeError):
            pass  # no manifest yet, or an unreadable one: every file is redone
        return manifest

    def complete(self, key: str) -> bool:
        """Whether ``key``'s outputs are complete (see the module doc)."""
        entry = self.files.get(key)
        if not entry or entry.get("status") != DONE or entry.get("settings") != self.settings:
            return False
        for name, size in entry.get("outputs", {}).items():
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
