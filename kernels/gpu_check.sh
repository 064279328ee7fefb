#!/usr/bin/env bash
# GPU check for the Triton attention kernel: the kernel tests (compiled, not interpreted), then the benchmark.
# Usage from the repo root on a CUDA machine:  bash kernels/gpu_check.sh   (output also saved under $OUT)
set -u
OUT=${OUT:-/tmp/gpu_check_out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
$PY -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" 2>&1 | tee -a "$OUT/gpu.txt"
TRITON_INTERPRET= timeout "${TEST_TIMEOUT:-100}" $PY -m pytest -q -s -p no:cacheprovider tests/test_kernels.py 2>&1 \
    | tee "$OUT/tests.txt" | grep -v '^$' | tail -n 60
echo "tests exit: ${PIPESTATUS[0]}" | tee -a "$OUT/tests.txt"
TRITON_INTERPRET= timeout "${BENCH_TIMEOUT:-240}" $PY -m kernels.bench 2>&1 | tee "$OUT/bench.txt"
echo "bench exit: ${PIPESTATUS[0]}" | tee -a "$OUT/bench.txt"
