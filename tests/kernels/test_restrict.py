"""Every pointer parameter of every kernel entry point is ``__restrict__`` (issue 28 item 3).

No kernel is ever launched with two of its pointer parameters on overlapping memory (each stage's
buffers are its own, the model output and the frame are read-only inputs), so the promise holds
everywhere, and it lets nvcc keep loads in registers and use the read-only path. The declarations are
read after the preprocessor (the kernels share parameter lists through macros), as g++ sees them under
the emulation header.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rtdetect.gpu.catalog import KERNELS, SOURCE_FILES
from rtdetect.gpu.sources import kernels_dir

ENTRY = re.compile(r'extern "C"\s+void\s+(\w+)\s*\(([^)]*)\)\s*\{')


@pytest.fixture(scope="module")
def entry_points() -> dict[str, list[str]]:
    if shutil.which("g++") is None:
        pytest.fail("g++ is needed to read the kernels' declarations (apt-get install g++)", pytrace=False)
    kdir = kernels_dir()
    found = {}
    for name in SOURCE_FILES:
        text = subprocess.run(["g++", "-E", "-P", "-std=c++20", "-include", "cuda_emu.h", f"-I{kdir}",
                               f"-I{kdir / 'emulation'}", "-x", "c++", str(kdir / name)],
                              check=True, capture_output=True, text=True).stdout
        for match in ENTRY.finditer(" ".join(text.split())):
            found[match.group(1)] = [p.strip() for p in match.group(2).split(",")]
    return found


def test_every_kernel_is_found(entry_points):
    assert set(entry_points) == set(KERNELS)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_pointer_parameters_are_restrict(entry_points, kernel):
    plain = [p for p in entry_points[kernel] if "*" in p and "__restrict__" not in p]
    assert plain == [], f"{kernel}: pointer parameters without __restrict__: {plain}"
