"""tools/gpu_check.sh without a GPU (issue 28 item 6): it runs to its end, reports every GPU step as skipped
in its summary and exits 0, and under RTDETECT_REQUIRE_CUDA=1 it fails instead. (What it does on a GPU
needs a GPU.)"""
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.sh"
STEPS = ("install", "needs_cuda_tests", "doctor", "agreement", "bench_fp16", "bench_int8")


def run(tmp_path, **env):
    """The script with no nvidia-smi to answer; (its result, its summary's lines)."""
    out = tmp_path / "out"
    base = {k: v for k, v in os.environ.items() if k != "RTDETECT_REQUIRE_CUDA"}
    result = subprocess.run(["bash", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=600,
                            env={**base, "NVIDIA_SMI": str(tmp_path / "no-nvidia-smi"), **env})
    return result, (out / "summary.txt").read_text().splitlines()


def test_without_a_gpu_every_step_is_skipped(tmp_path):
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary[0].startswith("GPU: none")
    assert summary[1:-1] == [f"{step}: skipped (no NVIDIA GPU)" for step in STEPS]
    assert summary[-1].startswith("result: SKIPPED")


def test_required_cuda_without_a_gpu_fails(tmp_path):
    result, summary = run(tmp_path, RTDETECT_REQUIRE_CUDA="1")
    assert result.returncode == 1
    assert all(line.startswith(f"{step}: FAILED") for line, step in zip(summary[1:-1], STEPS, strict=True))
    assert summary[-1] == "result: FAILED"
