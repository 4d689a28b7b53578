"""Every kernel source compiles with nvcc for the architectures users run, warnings as errors.

sm_75 (Turing), sm_86 (Ampere), sm_87 (Jetson Orin), sm_89 (Ada), sm_90 (Hopper, plus its PTX for newer
GPUs), with the options the runtime uses (--fmad=false: float maths as NumPy's). One nvcc call per file
with all architectures, files compiled two at a time (the CI machine has two cores). The emulator's
self-test kernels are compiled too: they must be real CUDA as well. Skips only where nvcc is absent.
"""
from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rtdetect.gpu.catalog import SOURCE_FILES
from rtdetect.gpu import fatbin
from rtdetect.gpu.compile import NVCC_OPTIONS
from rtdetect.gpu.sources import kernels_dir

ARCHITECTURES = fatbin.ARCHITECTURES
WARNINGS_AS_ERRORS = ("-Werror", "all-warnings", "-Xcompiler", "-Wall,-Werror", "-Xptxas", "-Werror")
SOURCES = [kernels_dir() / name for name in SOURCE_FILES] + [Path(__file__).with_name("emu_selftest.cu")]


def nvcc_command(nvcc: str, source: Path, output: Path) -> list[str]:
    return [nvcc, "-c", *NVCC_OPTIONS, *WARNINGS_AS_ERRORS, *fatbin.gencode_options(), f"-I{kernels_dir()}",
            "-o", str(output), str(source)]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (the CUDA toolkit) is not on PATH, so the kernels' compile check cannot run here")
    out = tmp_path_factory.mktemp("nvcc")

    def build(source: Path) -> subprocess.CompletedProcess:
        return subprocess.run(nvcc_command(nvcc, source, out / f"{source.stem}.o"), capture_output=True,
                              text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((s.name for s in SOURCES), pool.map(build, SOURCES)))


@pytest.mark.parametrize("source", [s.name for s in SOURCES])
def test_compiles_for_every_architecture_without_warnings(compiled, source):
    result = compiled[source]
    assert result.returncode == 0, f"nvcc failed on {source}:\n{result.stdout}\n{result.stderr}"
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stdout + result.stderr


def test_every_architecture_is_in_the_object(compiled, tmp_path_factory):
    # Each object embeds a fatbin with one ELF per architecture; its text names each sm_XY target.
    for name in compiled:
        obj = next(tmp_path_factory.getbasetemp().glob(f"nvcc*/{Path(name).stem}.o"))
        data = obj.read_bytes()
        for arch in ARCHITECTURES:
            assert f"sm_{arch}".encode() in data, f"{name}: no sm_{arch} code in the object"
