#!/usr/bin/env bash
# The GPU checks, pass/fail: the kernel tests compiled (bf16 included), the model tests on CUDA, a smoke
# training with the Triton kernel (its loss must fall and stay finite), eval and GRPO on CUDA, then the
# benchmarks (numbers printed, speed not asserted).  Exits 1 if any check failed.
#   bash gpu_check.sh        (PYTHON=... to pick the interpreter; the log is also written to $OUT)
set -uo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/gpu_check}; RUNS=$OUT/runs; PY=${PYTHON:-python3}
rm -rf "$RUNS"; mkdir -p "$RUNS"
export PYTHONUNBUFFERED=1
unset TRITON_INTERPRET  # compiled kernels, never the interpreter
passed=(); failed=()

check() {  # check NAME CMD...: run CMD, record NAME as passed or failed by its exit status
  local name=$1; shift
  echo; echo "=== $name"
  if "$@"; then passed+=("$name"); else echo "=== FAILED ($?): $name"; failed+=("$name"); fi
}

# The loss of a run in metrics.jsonl: finite everywhere, last 5 steps below the first 5, final val below the first.
LOSS_FELL='
import json, math, sys
r = [json.loads(l) for l in open(sys.argv[1])]
loss, val = [x["loss"] for x in r if "loss" in x], [x["val_loss"] for x in r if "val_loss" in x]
print("loss", loss[0], "->", loss[-1], " val_loss", val[0], "->", val[-1], " mfu", r[-2].get("mfu"))
assert len(loss) >= 10 and len(val) >= 2, (len(loss), len(val))
assert all(map(math.isfinite, loss + val)), "loss not finite"
assert sum(loss[-5:]) < sum(loss[:5]) and val[-1] < val[0], "loss did not fall"'

main() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  check "CUDA torch and triton" $PY -c "import torch, triton
assert torch.cuda.is_available(), 'torch sees no CUDA GPU'
print(torch.cuda.get_device_name(), 'torch', torch.__version__, 'triton', triton.__version__)"
  check "kernel tests, compiled" timeout 600 $PY -m pytest -q -s -p no:cacheprovider tests/test_kernels.py
  check "model tests on CUDA" timeout 300 $PY -m pytest -q -p no:cacheprovider tests/test_model.py \
      -k "triton or kv_cache or backend"
  for b in triton sdpa; do
    check "smoke training, $b" timeout 180 $PY train.py configs/smoke.py --device=cuda --attn_backend=$b \
        --out_dir="$RUNS/smoke_$b" --max_iters=60 --progress=false
    check "smoke training, $b: loss fell, finite" $PY -c "$LOSS_FELL" "$RUNS/smoke_$b/metrics.jsonl"
  done
  check "eval on CUDA" timeout 180 $PY eval.py --ckpt "$RUNS/smoke_triton/ckpt.pt" --device cuda \
      --splits S_eval --modes implicit,cot --no_progress
  check "GRPO on CUDA" timeout 180 $PY train.py configs/smoke.py --stage=grpo --device=cuda \
      --init_from="$RUNS/smoke_triton/ckpt.pt" --out_dir="$RUNS/grpo" --max_iters=3 --progress=false
  check "torch.compile smoke training" timeout 300 $PY train.py configs/smoke.py --device=cuda --compile=true \
      --out_dir="$RUNS/smoke_compile" --max_iters=30 --progress=false
  check "kernel benchmark" timeout 400 $PY -m kernels.bench
  check "training throughput, default sizes" timeout 120 $PY bench.py --device cuda --steps 20
  check "training throughput, GPU sizes, bf16" timeout 180 $PY bench.py --device cuda --bf16 --steps 20 \
      --n_layer 8 --n_head 8 --n_embd 512 --block_size 1024 --batch_size 16 --vocab_size 560
  echo
  if [ ${#failed[@]} -eq 0 ]; then echo "gpu_check: ${#passed[@]} passed, 0 failed"; return 0; fi
  local list; printf -v list '%s; ' "${failed[@]}"
  echo "gpu_check: ${#passed[@]} passed, ${#failed[@]} failed: ${list%; }"
  return 1
}

main 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
