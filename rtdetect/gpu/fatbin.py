"""Prebuilt kernels: one fatbin per kernel source, built where nvcc exists and shipped in the wheel.

Each fatbin holds a cubin for every architecture of ``ARCHITECTURES`` the building nvcc supports (sm_75
Turing, sm_80 A100/A30, sm_86, sm_87 Jetson Orin, sm_89 Ada, sm_90 Hopper, sm_100 and sm_120 Blackwell)
plus PTX at the lowest (compute_75), which the driver compiles for any newer GPU, so loading needs no
compiler. A ``manifest.json`` beside them records what they were built from and for: per source file the
SHA-256 of its text, ``common.cuh`` and the nvcc options (``sha256``); the cubin architectures
(``architectures``), the PTX architecture (``ptx``) and the CUDA release of the nvcc (``cuda``), which
the driver must support: a driver loads cubins of its own CUDA major or older, and PTX of its own CUDA
release or older. So whether a GPU and driver can use them is decided from the manifest alone
(``coverage_problem``), before anything is loaded. Where the sources are found, a fatbin whose digest
differs from them is stale and never used; an install without the sources (``pip install --target``)
uses the package's fatbins as recorded.

Built by the project's build step (setup.py ``build_py``: ``pip wheel .`` puts them in
``rtdetect/gpu/prebuilt/``), cached by digest under ``build/kernels-fatbin/`` of the checkout. Standard
library only, and no relative imports: setup.py loads this file by path, before rtdetect's dependencies
exist.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Exactly the float maths of the NumPy references: no fused multiply-add, IEEE division and square root,
# denormals kept. Shared by the prebuilt fatbins and the run-time nvcc fallback (compile.py).
NVCC_OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false", "-O3")
ARCHITECTURES = ("75", "80", "86", "87", "89", "90", "100", "120")  # cubins, those the building nvcc supports
PTX_ARCHITECTURE = "75"  # PTX at the lowest: the driver compiles it for any GPU no cubin covers
SOURCE_FILES = ("preprocess.cu", "decode.cu", "nms.cu", "masks.cu")
SHARED_HEADER = "common.cuh"
MANIFEST = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parent / "prebuilt"  # where the wheel carries them
CHECKOUT_CACHE = Path(__file__).resolve().parents[2] / "build" / "kernels-fatbin"


def gencode_options(architectures: tuple[str, ...] = ARCHITECTURES) -> list[str]:
    """nvcc -gencode options: a cubin per architecture, plus PTX of PTX_ARCHITECTURE."""
    options = []
    for arch in architectures:
        code = f"[sm_{arch},compute_{arch}]" if arch == PTX_ARCHITECTURE else f"sm_{arch}"
        options += ["-gencode", f"arch=compute_{arch},code={code}"]
    return options


def nvcc_facts(nvcc: str) -> tuple[str, tuple[str, ...]]:
    """(CUDA release, e.g. "13.0"; the ARCHITECTURES it can build cubins for) of an nvcc executable."""
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    release = re.search(r"release (\d+\.\d+)", version)
    if release is None:
        raise RuntimeError(f"cannot read the CUDA release from `{nvcc} --version`: {version.strip()}")
    listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True, check=True).stdout.split()
    supported = tuple(a for a in ARCHITECTURES if f"compute_{a}" in listed)
    if PTX_ARCHITECTURE not in supported:
        raise RuntimeError(f"{nvcc} (CUDA {release.group(1)}) cannot build compute_{PTX_ARCHITECTURE}")
    return release.group(1), supported


def source_digest(kernels_dir: Path, filename: str) -> str:
    """SHA-256 of what the fatbin of ``filename`` is built from (the architectures are recorded apart)."""
    digest = hashlib.sha256()
    for name in (filename, SHARED_HEADER):
        digest.update(name.encode())
        digest.update((Path(kernels_dir) / name).read_bytes())
    digest.update(" ".join(NVCC_OPTIONS).encode())
    return digest.hexdigest()


def digests(kernels_dir: Path) -> dict[str, str]:
    return {name: source_digest(kernels_dir, name) for name in SOURCE_FILES}


def fatbin_name(filename: str) -> str:
    return Path(filename).stem + ".fatbin"


def _build_one(nvcc: str, architectures: tuple[str, ...], kernels_dir: Path, filename: str, out_dir: Path) -> None:
    command = [nvcc, "-fatbin", *NVCC_OPTIONS, *gencode_options(architectures), f"-I{kernels_dir}",
               "-o", str(out_dir / fatbin_name(filename)), str(Path(kernels_dir) / filename)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nvcc failed to build {filename} ({' '.join(command)}):\n{result.stderr}")


def build(kernels_dir: Path, cache_root: Path = CHECKOUT_CACHE, nvcc: str | None = None) -> Path | None:
    """The directory of up-to-date fatbins for the sources in ``kernels_dir``: found in ``cache_root``
    (keyed by the sources' digests), else built there with ``nvcc`` (default: from PATH), two files at a
    time. None when there are none and no nvcc to build them. Raises RuntimeError when nvcc fails."""
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        cached = [p for p in Path(cache_root).glob("*") if read_manifest(p) == digests(kernels_dir)]
        return cached[0] if cached else None
    cuda, architectures = nvcc_facts(nvcc)
    wanted = digests(kernels_dir)
    key = hashlib.sha256(json.dumps([wanted, cuda, architectures], sort_keys=True).encode()).hexdigest()[:20]
    target = Path(cache_root) / key
    if read_manifest(target) == wanted:
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda name: _build_one(nvcc, architectures, Path(kernels_dir), name, Path(tmp)),
                          SOURCE_FILES))
        for name in SOURCE_FILES:
            os.replace(Path(tmp) / fatbin_name(name), target / fatbin_name(name))
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(json.dumps({"cuda": cuda, "architectures": list(architectures),
                                        "ptx": PTX_ARCHITECTURE, "sha256": wanted}, indent=1))
        os.replace(manifest, target / MANIFEST)  # last: the directory counts only once it is complete
    return target


def read_manifest(directory: Path) -> dict[str, str] | None:
    """Source digests a fatbin directory was built from, or None when it holds no complete build."""
    built = read_build(directory)
    return None if built is None else built["sha256"]


def read_build(directory: Path) -> dict | None:
    """The whole manifest of a complete fatbin directory (``cuda``, ``architectures``, ``ptx``, ``sha256``),
    or None when it holds no complete build of the current format."""
    try:
        recorded = json.loads((Path(directory) / MANIFEST).read_text())
        digests_ = recorded["sha256"]
        facts = (str(recorded["cuda"]), [str(a) for a in recorded["architectures"]], str(recorded["ptx"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all((Path(directory) / fatbin_name(name)).is_file() for name in SOURCE_FILES if name in digests_):
        return None
    return {"cuda": facts[0], "architectures": facts[1], "ptx": facts[2], "sha256": digests_}


def find_build(filename: str, kernels_dir: Path | None, places: list[Path] | None = None) -> tuple[Path, dict] | None:
    """(fatbin path, its directory's manifest) of ``filename``: built from exactly the sources in
    ``kernels_dir``, looked for in the installed package, then in this checkout's build cache; with no
    sources (``kernels_dir`` None: an install without them), the package's own, as its manifest records.
    None when there is none (or only stale ones)."""
    places = list(places if places is not None else search_places())
    if kernels_dir is None:
        places = places[:1]  # the package's own only: nothing vouches for a build cache without its sources
    wanted = None if kernels_dir is None else source_digest(kernels_dir, filename)
    for place in places:
        built = read_build(place)
        if built is None or filename not in built["sha256"]:
            continue
        if wanted is None or built["sha256"][filename] == wanted:
            return Path(place) / fatbin_name(filename), built
    return None


def search_places() -> list[Path]:
    """Where prebuilt fatbins may be: the package's ``prebuilt/`` and each build in the checkout cache."""
    places = [PACKAGE_DIR]
    if CHECKOUT_CACHE.is_dir():
        places += sorted(p for p in CHECKOUT_CACHE.iterdir() if p.is_dir())
    return places


def _capability(arch: str) -> tuple[int, int]:
    """"86" -> (8, 6); "120" -> (12, 0)."""
    return int(arch[:-1]), int(arch[-1])


def coverage_problem(built: dict, capability: tuple[int, int], driver: tuple[int, int] | None) -> str | None:
    """Why a GPU of compute ``capability`` under a driver supporting CUDA ``driver`` (None: unknown, assumed
    new enough) cannot load fatbins of this manifest (``read_build``), or None when it can: a cubin of
    its major version and no newer minor (cubins run on later minors of their major) whose CUDA major the
    driver supports, or the PTX (architecture at most the GPU's) whose CUDA release the driver supports
    (the driver compiles it). E.g. not: sm_72 (Xavier, below the PTX), CUDA 13 fatbins on a CUDA 12 driver."""
    major, minor = (int(v) for v in capability)
    cuda = tuple(int(v) for v in built["cuda"].split(".")[:2])
    gpu = f"sm_{major}{minor}"
    cubin = any(_capability(a)[0] == major and _capability(a)[1] <= minor for a in built["architectures"])
    ptx = _capability(built["ptx"]) <= (major, minor)
    if driver is None or (cubin and driver[0] >= cuda[0]) or (ptx and tuple(driver) >= cuda):
        if cubin or ptx:
            return None
    held = f"cubins sm_{', sm_'.join(built['architectures'])} and compute_{built['ptx']} PTX, built by CUDA {built['cuda']}"
    if not (cubin or ptx):
        return f"rtdetect's prebuilt CUDA kernels do not cover {gpu} (they hold {held})"
    return (f"the NVIDIA driver supports CUDA {driver[0]}.{driver[1]}, too old for rtdetect's prebuilt CUDA "
            f"kernels for {gpu} ({held})")
