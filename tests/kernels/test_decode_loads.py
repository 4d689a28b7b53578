"""Decode's class loop issues its loads together (issue 28 item 3).

The loop used to stop at the first NaN class score: an exit that depends on the value just loaded, so each
of a YOLOv8 thread's 80 score loads waited for the one before (one L2 round trip per class). Now a NaN is
carried as a value and the loop is unrolled, so the compiler may issue a batch of loads before the first
comparison; the output is unchanged (the NaN tests of test_decode_kernel.py hold on both versions).

What can be checked without a GPU is what nvcc generates: in the PTX of each decode kernel with a class
loop, some basic block (no label, no branch inside) holds at least RT_CLASS_UNROLL global loads. Before the
change the longest such run was the 4 box corners. Skips only where nvcc is absent.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rtdetect.gpu.compile import NVCC_OPTIONS
from rtdetect.gpu.sources import kernels_dir

CLASS_UNROLL = 8  # kernels/decode.cu RT_CLASS_UNROLL
KERNELS_WITH_A_CLASS_LOOP = ("decode_v8_f32", "decode_v8_f16", "decode_v5_f32", "decode_v5_f16")


@pytest.fixture(scope="module")
def decode_ptx(tmp_path_factory) -> str:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (the CUDA toolkit) is not on PATH: the decode kernels' PTX cannot be generated here")
    out = tmp_path_factory.mktemp("ptx") / "decode.ptx"
    subprocess.run([nvcc, "-ptx", "-arch=sm_90", *NVCC_OPTIONS, f"-I{kernels_dir()}", "-o", str(out),
                    str(kernels_dir() / "decode.cu")], check=True, capture_output=True, text=True, timeout=600)
    return out.read_text()


def function_body(ptx: str, name: str) -> list[str]:
    match = re.search(rf"\.entry {name}\(.*?\n\}}\n", ptx, re.S)
    assert match, f"{name} not in the PTX"
    return match.group(0).splitlines()


def longest_load_run(lines: list[str]) -> int:
    """Most global loads in one basic block: blocks end at a label or a branch."""
    longest = run = 0
    for line in lines:
        text = line.strip()
        if text.startswith("$L") or re.search(r"\bbra(\.uni)?\b", text):
            run = 0
        elif re.match(r"(@%p\d+\s+)?ld\.global", text):
            run += 1
            longest = max(longest, run)
    return longest


@pytest.mark.parametrize("kernel", KERNELS_WITH_A_CLASS_LOOP)
def test_class_scores_are_loaded_in_batches(decode_ptx, kernel):
    assert longest_load_run(function_body(decode_ptx, kernel)) >= CLASS_UNROLL
