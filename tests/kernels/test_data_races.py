"""No data races between a block's threads: every kernel runs under ThreadSanitizer on the emulator.

The emulator runs a block's threads as real threads, so a missing ``__syncthreads`` is a real race that
TSan reports (the emulator's own barrier and atomics are what TSan understands as synchronisation). The
kernels run in a child process with libtsan preloaded (tests/kernels/tsan_workload.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels_emulator import build_library, tsan_runtime


@pytest.mark.slow
def test_kernels_have_no_data_races(emulator_library):
    libtsan = tsan_runtime()
    if libtsan is None:
        pytest.skip("g++ has no ThreadSanitizer runtime (libtsan) here")
    library = build_library(sanitize="thread")
    env = {**os.environ, "LD_PRELOAD": str(libtsan), "TSAN_OPTIONS": "halt_on_error=1 exitcode=66"}
    workload = Path(__file__).with_name("tsan_workload.py")
    result = subprocess.run([sys.executable, str(workload), str(library)], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout + result.stderr[-6000:]
    assert "ThreadSanitizer" not in result.stderr, result.stderr[-6000:]
