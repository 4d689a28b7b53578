#!/usr/bin/env bash
# One command that proves the GPU path on a machine with an NVIDIA GPU and nothing but this repository
# (issue 28 item 6): installs the TensorRT extra that fits the driver into .venv-gpu, runs every needs_cuda
# test with RTDETECT_REQUIRE_CUDA=1, checks the GPU pipeline's detections against ONNX Runtime fp32 on the
# bundled clip and the test images, runs `rtdetect bench` for TensorRT fp16 and int8 (their per-stage CUDA
# event times are our kernels'), and writes one summary. Every step's output goes to OUT/<step>.log.
#
#   tools/gpu_check.sh [OUT]          # OUT defaults to gpu_check_out/
#
# Exit status: 0 when every step passed (or, without a GPU, was skipped), 1 when a step failed. Without an
# NVIDIA GPU every GPU step is reported as skipped; with RTDETECT_REQUIRE_CUDA=1 that is a failure.
# NVIDIA_SMI names the nvidia-smi to ask (default: nvidia-smi on PATH).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-gpu_check_out}
NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}
VENV=.venv-gpu
PY=$VENV/bin/python
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
lines=()
failed=0

say() { echo "gpu_check: $*"; lines+=("$*"); }

# run_step NAME COMMAND...: runs it with its output in OUT/NAME.log; a failure is loud and counted.
run_step() {
    local name=$1 start=$SECONDS
    shift
    echo "gpu_check: $name ..."
    if "$@" >"$OUT/$name.log" 2>&1; then
        say "$name: passed ($((SECONDS - start)) s)"
    else
        say "$name: FAILED ($((SECONDS - start)) s; see $OUT/$name.log)"
        tail -n 20 "$OUT/$name.log" >&2
        failed=1
    fi
}

# skip_step NAME REASON: reported as skipped; under RTDETECT_REQUIRE_CUDA=1 a failure.
skip_step() {
    if [ "${RTDETECT_REQUIRE_CUDA:-0}" = 1 ]; then
        say "$1: FAILED (RTDETECT_REQUIRE_CUDA=1 but $2)"
        failed=1
    else
        say "$1: skipped ($2)"
    fi
}

STEPS=(install needs_cuda_tests doctor agreement bench_fp16 bench_int8)

gpu=$("$NVIDIA_SMI" --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
cuda=$("$NVIDIA_SMI" 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\)\.\([0-9]*\).*/\1.\2/p' | head -n 1)
if [ -z "$gpu" ] || [ -z "$cuda" ]; then
    say "GPU: none (no NVIDIA GPU answers $NVIDIA_SMI)"
    for step in "${STEPS[@]}"; do
        skip_step "$step" "no NVIDIA GPU"
    done
else
    say "GPU: $gpu; driver supports CUDA $cuda"
    case ${cuda%%.*} in
        12) extra=tensorrt-cu12 ;;
        *) extra=tensorrt-cu13 ;;
    esac
    run_step install sh -c "python3 -m venv $VENV && $PY -m pip install -q -e '.[$extra,dev]' && $PY tools/fetch_test_assets.py"
    run_step needs_cuda_tests env RTDETECT_REQUIRE_CUDA=1 "$PY" -m pytest -q -m needs_cuda
    run_step doctor "$VENV/bin/rtdetect" doctor
    run_step agreement "$PY" tools/gpu_agreement.py rtdetect/data/demo.mp4 tests/data/bus.jpg tests/data/zidane.jpg \
        tests/data/person.jpg tests/data/dog.jpg
    run_step bench_fp16 "$VENV/bin/rtdetect" bench --source demo --backend tensorrt --precision fp16 \
        --json "$OUT/bench_fp16.json"
    run_step bench_int8 "$VENV/bin/rtdetect" bench --source demo --backend tensorrt --precision int8 \
        --json "$OUT/bench_int8.json"
fi

if [ "$failed" = 1 ]; then
    say "result: FAILED"
elif [ -z "$gpu" ] || [ -z "$cuda" ]; then
    say "result: SKIPPED (no GPU step ran: nothing was checked)"
else
    say "result: PASSED"
fi
printf '%s\n' "${lines[@]}" >"$SUMMARY.tmp" && mv "$SUMMARY.tmp" "$SUMMARY"  # whole or not at all
echo "gpu_check: summary in $SUMMARY"
exit "$failed"
