"""The threads of a run: every pipeline thread rtdetect starts is started here (``start``), and joined
here (``join_all``), so the stop contract holds for all of them."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Sequence

from .work import END_OF_INPUT, put_unless_stopped


def start(target: Callable[..., None], *args, name: str) -> threading.Thread:
    """A daemon thread named ``rtdetect:<name>`` running ``target(*args)``, started. Daemon: a stage stuck
    in native code must never keep the process alive after the run gave up on it."""
    thread = threading.Thread(target=target, args=args, name=f"rtdetect:{name}", daemon=True)
    thread.start()
    return thread


def pump(items: Iterable, outbox: queue.Queue, stop: threading.Event, errors: list) -> None:
    """A stage thread's body: forward ``items`` downstream, then the end marker, whatever happens. An error
    is handed to the consuming thread (which re-raises it once the end marker reached it): the items already
    forwarded still reach the sinks, and the stages upstream wait until the run sets ``stop``."""
    try:
        for item in items:
            if not put_unless_stopped(outbox, item, stop):
                return
    except BaseException as exc:  # handed to the consuming thread, which re-raises it
        errors.append(exc)
    finally:
        put_unless_stopped(outbox, END_OF_INPUT, stop)


def start_pump(items: Iterable, outbox: queue.Queue, stop: threading.Event, errors: list, *,
               name: str) -> threading.Thread:
    """``pump(items, outbox, stop, errors)`` in a thread of its own, started."""
    return start(pump, items, outbox, stop, errors, name=name)


def join_all(threads: Sequence[threading.Thread]) -> None:
    """Join every thread even through a repeated Ctrl-C: a stage thread may be inside native code (ONNX
    Runtime), and freeing its engine under it aborts the whole process. The last interrupt is re-raised."""
    interrupt = None
    for thread in threads:
        while thread.is_alive():
            try:
                thread.join()
            except KeyboardInterrupt as exc:
                interrupt = exc
    if interrupt is not None:
        raise interrupt
