"""Process-wide defaults that come from the environment: where rtdetect keeps its caches.

Besides ``cli.py``, this is the one place that reads the environment, so every cache (converted models,
TensorRT engines, compiled kernels) agrees on one root. Pass ``environ`` to resolve for another
environment (tests do).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

CACHE_ENV = "RTDETECT_CACHE"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$RTDETECT_CACHE``, else ``$XDG_CACHE_HOME/rtdetect``, else ``~/.cache/rtdetect``."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rtdetect"
