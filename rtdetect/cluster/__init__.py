"""Many files on a Ray cluster: ``rtdetect batch`` (see README "Many files on a cluster").

Ray is an optional extra (``pip install -e '.[cluster]'`` in the clone); it is imported only when a batch runs.
Modules: ``inputs`` (the files a pattern names and where their outputs go), ``manifest`` (what finished,
for resume), ``worker`` (one file on a warm engine, the actor's job), ``driver`` (the pool, retries,
progress and stop).
"""
from __future__ import annotations

from ..errors import missing_extra


def import_ray():
    """The ``ray`` module, or the error naming the extra that brings it."""
    try:
        import ray
    except ImportError:
        raise missing_extra("rtdetect batch", "Ray", "cluster") from None
    return ray
