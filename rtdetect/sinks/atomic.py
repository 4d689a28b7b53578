"""Atomic output files: written under a temporary name beside the target, renamed into place on close.

A reader never sees a half-written file under the final name; an interrupted run still renames what it
wrote (the caller closes in ``finally``), so the output holds every frame processed up to the stop.
"""
from __future__ import annotations

import os

from ..errors import OutputError


def check_output_path(path: str, allowed_ext: tuple[str, ...]) -> str:
    """Absolute path of ``path`` after checking its directory exists and its extension is allowed."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise OutputError(f"output directory does not exist: {folder}")
    if os.path.isdir(path):
        raise OutputError(f"output path is a directory: {path}")
    if allowed_ext and not path.lower().endswith(allowed_ext):
        raise OutputError(f"output {path} must end with one of {', '.join(allowed_ext)}")
    return path


def partial_path(path: str) -> str:
    """The temporary name: hidden, same folder, same extension (so codecs pick the same container)."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.partial-{os.getpid()}{ext}")


def commit(partial: str, final: str) -> None:
    os.replace(partial, final)
