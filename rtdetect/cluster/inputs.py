"""The files a batch processes and where each one's outputs go.

``--source`` is a file, a folder (every file in it, recursively) or a glob (``**`` recursive). Each input's
outputs mirror its path relative to the root (the folder, or the glob's part before its first wildcard)
under the output folder: ``archive/2024/cam1.mp4`` with root ``archive`` gives ``out/2024/cam1.jsonl``
(and ``out/2024/cam1.mp4`` with ``--save``; an image input's annotated copy keeps its extension). Files already under the output folder are never inputs
(a rerun must not process its own annotated videos), and no output may be an input.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from ..capture import StreamOptions
from ..capture.images import glob_root, is_image_path
from ..errors import OutputError, SourceError
from ..files import check_output_dir
from ..streams import StreamEntry

SAVE_EXTENSION = ".mp4"


@dataclass(frozen=True)
class BatchInput:
    """One input file: ``path`` (as found), ``key`` (its path relative to the root, ``/``-separated: the
    manifest's key), ``output_dir`` (absolute) and the outputs' names relative to it (``/``-separated)."""

    path: str
    key: str
    output_dir: str
    jsonl_name: str
    video_name: str

    @property
    def jsonl(self) -> str:
        return os.path.join(self.output_dir, self.jsonl_name)

    @property
    def video(self) -> str:
        """The annotated video (or image, for an image input) written with ``--save``."""
        return os.path.join(self.output_dir, self.video_name)


@dataclass(frozen=True)
class StreamGroup:
    """Streams of a stream list that one actor runs together through its one engine; their outputs go
    under ``output_dir/<name>/`` (absolute)."""

    entries: tuple[StreamEntry, ...]
    output_dir: str
    options: StreamOptions | None = None


def stream_groups(entries: list[StreamEntry], groups: int, output_dir: str,
                  options: StreamOptions | None) -> list[StreamGroup]:
    """``entries`` dealt round-robin into at most ``groups`` groups (list order within each)."""
    count = max(1, min(groups, len(entries)))
    return [StreamGroup(tuple(entries[k::count]), os.path.abspath(output_dir), options) for k in range(count)]


def _matches(source: str) -> tuple[list[str], str]:
    """The files ``source`` names, sorted, and their root."""
    if os.path.isdir(source):
        pattern, root = os.path.join(source, "**", "*"), source
    elif glob.has_magic(source):
        pattern, root = source, glob_root(source)
    else:
        pattern, root = source, os.path.dirname(source) or os.curdir
    return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)), root


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


def batch_inputs(source: str, output_dir: str) -> list[BatchInput]:
    """The inputs of ``source`` with their outputs under ``output_dir`` (which must exist and be writable).
    Raises SourceError when nothing matches, OutputError when an output would overwrite an input."""
    check_output_dir(output_dir)
    paths, root = _matches(source)
    paths = [p for p in paths if not _inside(p, output_dir)]
    if not paths:
        raise SourceError(f"--source {source}: no files match")
    inputs = []
    for path in paths:
        key = os.path.relpath(path, root).replace(os.sep, "/")
        stem = os.path.splitext(key)[0]
        annotated = stem + (os.path.splitext(path)[1] if is_image_path(path) else SAVE_EXTENSION)
        inputs.append(BatchInput(path, key, os.path.abspath(output_dir), stem + ".jsonl", annotated))
    _refuse_overwrite(inputs)
    return inputs


def _refuse_overwrite(inputs: list[BatchInput]) -> None:
    """OutputError when an output is an input, or two inputs (``a.mp4``, ``a.avi``) share outputs."""
    owners: dict[str, str] = {}
    for item in inputs:
        other = owners.setdefault(item.jsonl, item.path)
        if other != item.path:
            raise OutputError(f"{other} and {item.path} would both write {item.jsonl}; rename one of them")
    real_inputs = {os.path.realpath(item.path): item.path for item in inputs}
    for item in inputs:
        for output in (item.jsonl, item.video):
            if os.path.realpath(output) in real_inputs:
                raise OutputError(f"{output} would overwrite the input {real_inputs[os.path.realpath(output)]}; "
                                  f"choose another --output-dir")
