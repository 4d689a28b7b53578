"""Stop signals: SIGINT (Ctrl-C), SIGTERM (``docker stop``, systemd, ``timeout``) and SIGHUP (a closed
terminal) all stop a command the same way, with the outputs finalised, and the exit status 128 + signal.

The first signal stops: while the outputs are open (inside :meth:`SignalStop.finishing`) it sets ``event``,
which the pipeline polls, so the frame in hand is completed by every sink and the outputs are finalised;
anywhere else (loading or converting a model) it raises :class:`Interrupted` at once. Any further signal
only says that the outputs are being finished: raising again would abandon threads that are inside native
code (ONNX Runtime) while their engine is freed, which aborts the process ("terminate called without an
active exception").
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def exit_status(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (130 for SIGINT)."""
    return 128 + int(signum)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived outside the run loop; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalStop:
    """``with SignalStop() as stop:`` installs the handlers (main thread only; elsewhere it does nothing) and
    restores the previous ones on exit. ``signum`` is the first signal received, or None."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._finishing = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "SignalStop":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            outer = getattr(handler, "__self__", None)
            if isinstance(outer, SignalStop) and outer.signum is None:
                outer.signum = self.signum  # nested: a stop seen here makes a later signal out there wait too
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def name(self) -> str | None:
        """The first signal's name (``"SIGTERM"``), or None."""
        return signal.Signals(self.signum).name if self.signum is not None else None

    @contextlib.contextmanager
    def finishing(self) -> Iterator[threading.Event]:
        """While inside, a signal sets the yielded event instead of raising (see the module docstring)."""
        self._finishing = True
        try:
            yield self.event
        finally:
            self._finishing = False

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            # os.write, not print: the handler may run while the main thread is inside a print.
            os.write(2, b"rtdetect: already stopping; finishing the outputs\n")
            return
        self.signum = signum
        self.event.set()
        if not self._finishing:
            raise Interrupted(signum)
