"""The installed rtdetect version (cheap to import: no torch, no OpenCV)."""
from __future__ import annotations

from importlib import metadata as importlib_metadata


def rtdetect_version() -> str:
    """The installed rtdetect version, or ``0+unknown`` when running from a source tree."""
    try:
        return importlib_metadata.version("rtdetect")
    except importlib_metadata.PackageNotFoundError:
        return "0+unknown"
