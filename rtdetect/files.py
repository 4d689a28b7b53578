"""Checks on the paths a user gives, made before any model work: an output must be writable and must
never be one of the inputs (nothing the user gave as input is ever overwritten)."""
from __future__ import annotations

import os
import tempfile
from typing import Iterable

from .errors import OutputError

STDOUT_NAMES = ("-", "/dev/stdout")


def opencv_path(path: str | os.PathLike[str]) -> bytes:
    """``path`` as OpenCV must be given it (to open or write a video): the bytes the file system holds.
    OpenCV encodes a ``str`` as UTF-8 and crashes the process on one that has none, as Python gives a file
    name that is not valid UTF-8, or any non-ASCII name under a C locale (its bytes become surrogates)."""
    return os.fsencode(path)


def is_stdout(path: str | None) -> bool:
    """True for ``-`` and ``/dev/stdout``: stream to standard output instead of a file."""
    return path is not None and str(path) in STDOUT_NAMES


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same file (hard links and symlinks included); a path that
    does not exist yet is compared by its resolved name."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_input_as_output(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]],
                           option: str) -> None:
    """Raise OutputError when ``output`` (the value of ``option``) is one of ``inputs``."""
    for source in inputs:
        if same_file(output, source):
            raise OutputError(f"{option} {output} is the input {source}: refusing to overwrite it; "
                              f"choose another output name")


def check_output_dir(folder: str, option: str = "--output-dir", *, create: bool = True) -> None:
    """OutputError unless ``folder`` is a folder where files can be created. ``create``: a missing folder whose
    parent exists is created first, as ``--save DIR/`` creates its folder."""
    if create and not os.path.lexists(folder) and os.path.isdir(os.path.dirname(os.path.abspath(folder))):
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass  # created meanwhile (another run): checked below like any existing path
        except OSError as exc:
            raise OutputError(f"cannot create {option} {folder}: {exc.strerror or exc}") from None
    if not os.path.isdir(folder):
        parent = " (nor a new one in an existing folder)" if create else ""
        raise OutputError(f"{option} {folder}: not an existing folder{parent}")
    probe_writable(folder)


def probe_writable(folder: str | os.PathLike[str]) -> None:
    """Raise OutputError unless a file can really be created in ``folder`` (creates and removes one:
    ``os.access`` says yes to root even where the file system refuses)."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".rtdetect-probe-", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    os.close(handle)
    os.unlink(probe)
