"""Find the CUDA kernel sources (``kernels/*.cu``, ``*.cuh``) at run time.

Looked for, in order:

1. ``rtdetect/_kernels`` inside the installed package (a wheel that maps ``kernels/`` to that package);
2. ``<prefix>/share/rtdetect/kernels`` (a wheel that ships ``kernels/`` as data files; system and user
   schemes);
3. ``kernels/`` beside the ``rtdetect`` package (a development checkout or an editable install).

A directory counts when it holds ``common.cuh``. Pure functions of the file system; nothing is cached.
"""
from __future__ import annotations

import os
import sysconfig
from pathlib import Path

MARKER = "common.cuh"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def candidate_dirs() -> list[Path]:
    """Every place the kernels may be, in the order they are tried."""
    places = [_PACKAGE_DIR / "_kernels"]
    schemes = [sysconfig.get_default_scheme(), f"{os.name}_user"]
    for scheme in schemes:
        try:
            data = sysconfig.get_path("data", scheme)
        except KeyError:  # a scheme this Python does not know
            continue
        if data:
            places.append(Path(data) / "share" / "rtdetect" / "kernels")
    places.append(_PACKAGE_DIR.parent / "kernels")
    return places


def kernels_dir() -> Path:
    """The directory holding the kernel sources; FileNotFoundError lists where it looked."""
    places = candidate_dirs()
    for place in places:
        if (place / MARKER).is_file():
            return place
    looked = ", ".join(str(p) for p in places)
    raise FileNotFoundError(f"rtdetect's CUDA kernel sources are missing (looked for {MARKER} in: {looked}); "
                            f"reinstall rtdetect or run from a source checkout")


def kernel_source(filename: str) -> str:
    """The text of one kernel source file, e.g. ``kernel_source('nms.cu')``."""
    path = kernels_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"kernel source {filename!r} is not in {path.parent}")
    return path.read_text(encoding="utf-8")
