"""One output file of a run: its path checked, its target locked, written as a partial, finalised by a rule.

The rule (the README's "Faults" section):

- a run that ends (end of input, ``--max-frames``, a quit key, a stop signal) renames each verified
  output into place, replacing what was there;
- a run that failed (a write error such as a full disk, or any other error) keeps what it wrote only
  where no file existed at the target: a failed run never replaces an earlier output (``rtdetect batch``
  keeps nothing of a failed file: its sinks are opened with ``keep_on_failure=False``);
- anything not kept is removed, so no partial stays behind.

While the run holds its outputs, another run that names the same target is refused at once
(:class:`rtdetect.atomic.FileLock` on the target); partials left by killed runs are removed on open.
"""
from __future__ import annotations

import contextlib
import os

from ..errors import OutputError
from ..atomic import FileLock, LockedError, lock_path, partial_path, remove_stale_partials


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


def hold_lock(target: str, shown: str, alternative: str) -> FileLock:
    """The lock on ``target`` (:func:`rtdetect.atomic.lock_path`), acquired without waiting. OutputError when
    another run holds it (``shown``: what the message names; ``alternative``: what the user can choose instead)
    or when the lock file cannot be created."""
    lock = FileLock(lock_path(target))
    try:
        lock.acquire(wait=False)
    except LockedError as exc:
        owner = f" (PID {exc.holder})" if exc.holder else ""
        raise OutputError(f"{shown} is being written by another rtdetect run{owner}; wait for it to finish or "
                          f"choose {alternative}") from None
    except OSError as exc:
        raise OutputError(f"cannot create files in {os.path.dirname(target)}: {exc.strerror}") from None
    return lock


class OutputFile:
    """``path`` (final) and ``partial`` (where the sink writes); call exactly one of :meth:`finalise`,
    :meth:`commit` or :meth:`discard`, which also release the lock. ``keep_on_failure=False``: what a failed
    run wrote is never kept (``rtdetect batch``: complete or absent)."""

    def __init__(self, path: str, allowed_ext: tuple[str, ...], *, keep_on_failure: bool = True) -> None:
        self.path = check_output_path(path, allowed_ext)
        self.keep_on_failure = keep_on_failure
        self._lock = hold_lock(self.path, self.path, "another output name")
        remove_stale_partials(os.path.dirname(self.path), self.path)
        self.partial = str(partial_path(self.path))

    def keeps(self, *, failed: bool) -> bool:
        """Whether the rule lets a complete partial stand after a run that ``failed`` (or not)."""
        return self.keep_on_failure or not failed

    def finalise(self, *, failed: bool) -> bool:
        """The module's rule for a complete partial: renamed into place after a run that ended, kept after
        one that ``failed`` only where it replaces nothing (and :meth:`keeps` it); True when it was."""
        if not self.keeps(failed=failed):
            self.discard()
            return False
        return self.commit(replace=not failed)

    def commit(self, *, replace: bool) -> bool:
        """Rename the partial into place (over an existing file only when ``replace``); True when it was.
        Without ``replace`` and with a file at the target, the partial is removed and the target kept."""
        try:
            if not replace and os.path.exists(self.path):  # no race: we hold the target's lock
                return False
            os.replace(self.partial, self.path)
            return True
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the partial (if any) and release the target."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)
        self._lock.release()
