"""One-line notes to the user on stderr (``rtdetect: ...``): progress of long steps, fallbacks, warnings."""
from __future__ import annotations

import sys


def note(message: str) -> None:
    """Print ``rtdetect: <message>`` on stderr and flush (the CLI's errors say ``rtdetect: error: ...``)."""
    print(f"rtdetect: {message}", file=sys.stderr, flush=True)
