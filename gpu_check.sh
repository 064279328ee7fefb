#!/usr/bin/env bash
# The GPU checks, pass/fail: the kernel tests compiled (bf16 included), the model tests on CUDA, a smoke
# training with the Triton kernel (its loss must fall and stay finite), eval and GRPO on CUDA, then the
# benchmarks (numbers printed, speed not asserted): bench.py at the gpu preset's shape and at GPT-2 small,
# eager and compiled, and train.py pretraining at the gpu preset (tokens/s and MFU from its metrics),
# eager and compiled (train.py's compile default stays off; this is where both are measured).
# Exits 1 if any check failed.
#   bash gpu_check.sh        (PYTHON=... to pick the interpreter; the log is also written to $OUT)
#   bash gpu_check.sh perf   the throughput checks only (bench.py and the pretraining runs)
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

# Throughput of a pretraining run from its metrics.jsonl: the median over the logged intervals after the
# first two (start-up and compilation), and every interval.
THROUGHPUT='
import json, statistics, sys
r = [x for x in map(json.loads, open(sys.argv[1])) if "tokens_per_s" in x]
assert len(r) >= 4, f"{len(r)} logged intervals"
late, skipped = r[2:], r[1]["step"] + 1
tok, mfu = statistics.median(x["tokens_per_s"] for x in late), [x["mfu"] for x in late if "mfu" in x]
mfu = f"{statistics.median(mfu):.3f}" if mfu else "- (card not in train.PEAK_FLOPS)"
print(f"{sys.argv[2]}: {tok:,.0f} tokens/s, MFU {mfu} (median of the intervals after the first {skipped} steps);",
      "tokens/s per interval:", [round(x["tokens_per_s"]) for x in r])'

main() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  check "CUDA torch and triton" $PY -c "import torch, triton
assert torch.cuda.is_available(), 'torch sees no CUDA GPU'
print(torch.cuda.get_device_name(), 'torch', torch.__version__, 'triton', triton.__version__)"
  [ "${1:-all}" = perf ] || correctness
  throughput
  echo
  if [ ${#failed[@]} -eq 0 ]; then echo "gpu_check: ${#passed[@]} passed, 0 failed"; return 0; fi
  local list; printf -v list '%s; ' "${failed[@]}"
  echo "gpu_check: ${#passed[@]} passed, ${#failed[@]} failed: ${list%; }"
  return 1
}

correctness() {
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
}

throughput() {  # bench.py: CUDA-event timing of back-to-back steps; the baseline is always its first row
  $PY -m data.build configs/corpus_full.py > "$RUNS/corpus_full.log" 2>&1 &  # the gpu preset's corpus, meanwhile
  local build=$!
  check "bench, gpu shape, eager" timeout 180 $PY bench.py --device cuda --shape gpu --steps 50 --warmup 5 \
      --only causal,one,docs,allhead,asbase,triton
  check "bench, gpu shape, compiled" timeout 240 $PY bench.py --device cuda --shape gpu --steps 50 --warmup 5 \
      --compile --only docs
  check "bench, gpt2 shape, eager" timeout 180 $PY bench.py --device cuda --shape gpt2 --steps 30 --warmup 3 \
      --only causal,docs,allhead,triton
  check "bench, gpt2 shape, compiled" timeout 300 $PY bench.py --device cuda --shape gpt2 --steps 30 --warmup 5 \
      --compile --only docs
  # train.py pretraining at the gpu preset (configs/pretrain.py with PBB_PRESET=gpu), 80 steps logged every 10
  check "corpus of the gpu preset" wait $build
  pretrain eager --compile=false
  pretrain compiled --compile=true
  pretrain compiled_head_all_positions --compile=true --head_all_positions=true
}

pretrain() {  # pretrain NAME ARGS...: a short pretraining run at the gpu preset, then its tokens/s and MFU
  local name=$1; shift
  check "pretraining, gpu preset, $name" env PBB_PRESET=gpu timeout 240 $PY train.py configs/pretrain.py \
      --device=cuda --max_iters=80 --log_interval=10 --eval_interval=0 "--val_data=[]" --ckpt_interval=0 \
      --progress=false --out_dir="$RUNS/pretrain_$name" "$@"
  check "pretraining, gpu preset, $name: throughput" $PY -c "$THROUGHPUT" "$RUNS/pretrain_$name/metrics.jsonl" \
      "train.py pretraining, gpu preset, $name"
}

main "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
