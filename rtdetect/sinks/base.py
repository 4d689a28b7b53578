"""The role every sink plays, as code: :class:`Sink`, and the one way a run closes its sinks.

A sink takes each processed frame in order, in the thread that consumes the run (a window must be driven
from one thread). ``needs_render``: the pipeline renders the annotated image only when some sink wants it.
``quit_requested``: the user asked the sink to end the run (a window's ``q``); the run stops after that frame.
``close(failed=...)``: ``failed`` means the run ended with an error, and file sinks then replace no existing
output (see :mod:`rtdetect.sinks.output`); a stop (Ctrl-C, a signal) is not a failure.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..types import Detections, Frame


@runtime_checkable
class Sink(Protocol):
    needs_render: bool
    quit_requested: bool

    def write(self, frame: Frame, detections: Detections, rendered: np.ndarray | None) -> None:
        """Take one frame: its detections (frame pixels) and, when ``needs_render``, the annotated (H, W, 3)
        uint8 BGR image (None otherwise)."""

    def close(self, *, failed: bool = False) -> None:
        """Finish the outputs (see the module docstring); called once, after the last ``write``."""


def close_callback(sink: Sink) -> Callable[..., None]:
    """An ``ExitStack.push`` exit callback that closes ``sink``, telling it whether the run failed: an
    exception other than KeyboardInterrupt (a stop) is a failure."""
    def close(exc_type, exc, traceback) -> None:
        sink.close(failed=exc_type is not None and not issubclass(exc_type, KeyboardInterrupt))
    return close
