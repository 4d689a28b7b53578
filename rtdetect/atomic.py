"""Files written safely: one way to write atomically, name partial files, clean up after killed runs, and lock.

Every file rtdetect writes (videos, JSONL, converted models, engines) is first written to a *partial* beside
its target, named ``.{stem}.partial-{pid}-{start}-{token}{suffix}`` (hidden, same folder so the rename is
atomic, same suffix so codecs choose the same container, the writer's PID and start time so that leftovers
can be attributed), then renamed into place. A run killed with SIGKILL cannot clean up; the next run writing
into that folder removes partials whose writer no longer runs: its PID is gone, or now belongs to a process
that started at another time (the PID was reused). A partial whose writer is alive is never touched: it may
be being written. ``{start}`` is the process start time in clock ticks after boot (field 22 of
``/proc/PID/stat``); where ``/proc`` is missing the name has no ``{start}`` and only the PID is checked.

Locks are ``flock`` locks on a hidden ``.{name}.lock`` file beside the target holding the owner's PID;
the owner removes it on release, so no lock file stays behind (one left by a SIGKILL is reused and then
removed by the next owner). Where ``fcntl`` is missing (Windows) locking is a no-op; the atomic rename
still keeps readers from partial files.
"""
from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import Iterator

from .errors import RtdetectError

_PARTIAL = re.compile(r"^\.(?P<stem>.*)\.partial-(?P<pid>\d+)(?:-(?P<start>\d+))?-[0-9a-f]{8}(?P<suffix>\.[^.]*)?$")


class LockedError(RtdetectError):
    """Another process holds the lock; ``holder`` is its PID when it could be read."""

    def __init__(self, path: Path, holder: int | None) -> None:
        owner = f"PID {holder}" if holder else "another process"
        super().__init__(f"{path} is locked by {owner}")
        self.path, self.holder = path, holder


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (``/proc/PID/stat`` field 22), or None when
    that cannot be read (no such process, no ``/proc``). Together with the PID it names one process: a PID
    is reused, a (PID, start time) pair is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Field 2 (the command name) is in parentheses and may itself hold spaces and parentheses: count the
    # fields after its last ")", where field 3 is the first.
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return int(fields[22 - 3])
    except (IndexError, ValueError):
        return None


def partial_path(target: str | os.PathLike[str]) -> Path:
    """A fresh partial name for ``target`` (see the module docstring); nothing is created."""
    target = Path(target)
    pid = os.getpid()
    start = process_start_time(pid)
    writer = f"{pid}-{start}" if start is not None else f"{pid}"
    return target.with_name(f".{target.stem}.partial-{writer}-{uuid.uuid4().hex[:8]}{target.suffix}")


def pid_running(pid: int) -> bool:
    """Whether a process with this PID exists (one owned by another user counts as running). A number no
    process can have (0 or below, or too large for the system: read from a file name someone wrote) is no
    running process."""
    if pid <= 0:
        return False  # os.kill(0, ...) would ask about our own process group
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def writer_running(pid: int, start: int | None) -> bool:
    """Whether the process that wrote a partial (its PID and, when recorded, its start time) still runs. A
    live PID whose start time cannot be read (another user's process behind ``hidepid``) counts as running."""
    if not pid_running(pid):
        return False
    if start is None:
        return True
    now = process_start_time(pid)
    return now is None or now == start


def remove_stale_partials(folder: str | os.PathLike[str], target: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the partials in ``folder`` (only ``target``'s when given) whose writer no longer runs."""
    want = (Path(target).stem, Path(target).suffix) if target is not None else None
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            match = _PARTIAL.match(entry.name)
            if match is None or writer_running(int(match["pid"]), None if match["start"] is None else int(match["start"])):
                continue
            if want is not None and (match["stem"], match["suffix"] or "") != want:
                continue
            with contextlib.suppress(OSError):  # gone already, or not ours to remove: leave it
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a partial path beside ``target``; on normal exit it replaces ``target`` (``os.replace``, atomic on
    POSIX and Windows), on any exception (Ctrl-C included) it is removed. Readers see the old file or the
    complete new one, never a partial write."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically, synced to disk before the rename."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``target``: ``.{name}.lock`` beside it."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


class FileLock:
    """An exclusive lock on ``path`` (see the module docstring). ``acquire(wait=False)`` raises
    :class:`LockedError` at once when another process holds it; ``with FileLock(p):`` waits."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no locking (see module docstring)
            return
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                raise LockedError(self.path, self._holder()) from None
            except BaseException:
                os.close(fd)
                raise
            # The previous owner may have unlinked the file between our open and our flock: then this lock
            # guards nothing, and we start again on the file now at ``path``.
            if self._same_file(fd):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
            else:
                os.close(fd)

    def _same_file(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def _holder(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(self.path.read_text().strip() or 0) or None
        return None

    def release(self) -> None:
        """Remove the lock file and unlock (in that order: a waiter then retries on a fresh file)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "FileLock":
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()
