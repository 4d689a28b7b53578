"""One-line notes to the user on stderr (``rtdetect: ...``): progress of long steps, fallbacks, warnings."""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator


def note(message: str) -> None:
    """Print ``rtdetect: <message>`` on stderr and flush (the CLI's errors say ``rtdetect: error: ...``)."""
    print(f"rtdetect: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """Hide records logged directly on the root logger while the block runs. Some libraries log advice or
    warnings there (ONNX Runtime's quantizer, OpenVINO's telemetry on import), which Python prints on stderr
    when the application configured no logging; other loggers are untouched."""
    root = logging.getLogger()
    hide = logging.Filter("rtdetect-never-matches")  # a named filter rejects records of every other logger
    root.addFilter(hide)
    try:
        yield
    finally:
        root.removeFilter(hide)
