"""Prebuilt kernels: one fatbin per kernel source, built where nvcc exists and shipped in the wheel.

Each fatbin holds cubins for sm_75, sm_86, sm_87 (Jetson Orin), sm_89 and sm_90 plus compute_90 PTX, which
the driver compiles for newer GPUs itself, so loading needs no compiler. A ``manifest.json`` beside them
records, per source file, the SHA-256 of what it was built from (the ``.cu``, ``common.cuh``, the nvcc
options and the architectures): a fatbin whose digest differs from the sources found at run time is stale
and never loaded (a source checkout edited after a build falls back to compiling).

Built by the project's build step (setup.py ``build_py``: ``pip wheel .`` puts them in
``rtdetect/gpu/prebuilt/``), cached by digest under ``build/kernels-fatbin/`` of the checkout. Standard
library only, and no relative imports: setup.py loads this file by path, before rtdetect's dependencies
exist.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Exactly the float maths of the NumPy references: no fused multiply-add, IEEE division and square root,
# denormals kept. Shared by the prebuilt fatbins and the run-time nvcc fallback (compile.py).
NVCC_OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false", "-O3")
ARCHITECTURES = ("75", "86", "87", "89", "90")  # cubins; the last also as PTX for newer GPUs
SOURCE_FILES = ("preprocess.cu", "decode.cu", "nms.cu", "masks.cu")
SHARED_HEADER = "common.cuh"
MANIFEST = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parent / "prebuilt"  # where the wheel carries them
CHECKOUT_CACHE = Path(__file__).resolve().parents[2] / "build" / "kernels-fatbin"


def gencode_options() -> list[str]:
    """nvcc -gencode options: a cubin per architecture, plus PTX of the newest."""
    options = []
    for arch in ARCHITECTURES:
        code = f"[sm_{arch},compute_{arch}]" if arch == ARCHITECTURES[-1] else f"sm_{arch}"
        options += ["-gencode", f"arch=compute_{arch},code={code}"]
    return options


def source_digest(kernels_dir: Path, filename: str) -> str:
    """SHA-256 of what the fatbin of ``filename`` is built from."""
    digest = hashlib.sha256()
    for name in (filename, SHARED_HEADER):
        digest.update(name.encode())
        digest.update((Path(kernels_dir) / name).read_bytes())
    digest.update(" ".join((*NVCC_OPTIONS, *gencode_options())).encode())
    return digest.hexdigest()


def digests(kernels_dir: Path) -> dict[str, str]:
    return {name: source_digest(kernels_dir, name) for name in SOURCE_FILES}


def fatbin_name(filename: str) -> str:
    return Path(filename).stem + ".fatbin"


def _build_one(nvcc: str, kernels_dir: Path, filename: str, out_dir: Path) -> None:
    command = [nvcc, "-fatbin", *NVCC_OPTIONS, *gencode_options(), f"-I{kernels_dir}",
               "-o", str(out_dir / fatbin_name(filename)), str(Path(kernels_dir) / filename)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nvcc failed to build {filename} ({' '.join(command)}):\n{result.stderr}")


def build(kernels_dir: Path, cache_root: Path = CHECKOUT_CACHE, nvcc: str | None = None) -> Path | None:
    """The directory of up-to-date fatbins for the sources in ``kernels_dir``: found in ``cache_root``
    (keyed by the sources' digests), else built there with ``nvcc`` (default: from PATH), two files at a
    time. None when there are none and no nvcc to build them. Raises RuntimeError when nvcc fails."""
    wanted = digests(kernels_dir)
    key = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:20]
    target = Path(cache_root) / key
    if read_manifest(target) == wanted:
        return target
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda name: _build_one(nvcc, Path(kernels_dir), name, Path(tmp)), SOURCE_FILES))
        for name in SOURCE_FILES:
            os.replace(Path(tmp) / fatbin_name(name), target / fatbin_name(name))
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(json.dumps({"architectures": list(ARCHITECTURES), "sha256": wanted}, indent=1))
        os.replace(manifest, target / MANIFEST)  # last: the directory counts only once it is complete
    return target


def read_manifest(directory: Path) -> dict[str, str] | None:
    """Source digests a fatbin directory was built from, or None when it holds no complete build."""
    try:
        recorded = json.loads((Path(directory) / MANIFEST).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all((Path(directory) / fatbin_name(name)).is_file() for name in recorded):
        return None
    return recorded


def find_fatbin(filename: str, kernels_dir: Path, places: list[Path] | None = None) -> Path | None:
    """The prebuilt fatbin of ``filename`` built from exactly the sources in ``kernels_dir``: looked for in
    the installed package, then in this checkout's build cache. None when there is none (or only stale)."""
    wanted = source_digest(kernels_dir, filename)
    for place in places if places is not None else search_places():
        if (read_manifest(place) or {}).get(filename) == wanted:
            return Path(place) / fatbin_name(filename)
    return None


def search_places() -> list[Path]:
    """Where prebuilt fatbins may be: the package's ``prebuilt/`` and each build in the checkout cache."""
    places = [PACKAGE_DIR]
    if CHECKOUT_CACHE.is_dir():
        places += sorted(p for p in CHECKOUT_CACHE.iterdir() if p.is_dir())
    return places


def arch_is_covered(major: int, minor: int) -> bool:
    """Whether a GPU of compute capability major.minor can load the fatbins: a cubin of its major version
    and no newer minor (cubins run on later minors of their major), or the PTX of the newest architecture
    (which the driver compiles for newer GPUs only). Not covered: e.g. sm_80 (A100), sm_72 (Xavier)."""
    cubin = any(int(a[:-1]) == major and int(a[-1]) <= minor for a in ARCHITECTURES)
    newest = ARCHITECTURES[-1]
    return cubin or (major, minor) >= (int(newest[:-1]), int(newest[-1]))
