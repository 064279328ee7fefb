#!/usr/bin/env bash
# The GPU checks in one go: model tests on CUDA, training and eval with the Triton kernel, benchmarks.
#   bash gpu_check.sh            (results also in $OUT when set)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
log() { echo; echo "=== $*"; }
{
log "device"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
log "model tests on CUDA"; timeout 150 python3 -m pytest -q tests/test_model.py -k "triton or kv_cache or backends"
log "smoke training, triton and sdpa"
for b in triton sdpa; do
  timeout 90 python3 train.py configs/smoke.py --device=cuda --attn_backend=$b --out_dir=/tmp/smoke_$b --max_iters=60 --progress=false | tail -2
  python3 -c "import json; r=[json.loads(l) for l in open('/tmp/smoke_$b/metrics.jsonl')]; print('$b', 'first loss', r[0]['loss'], 'last loss', r[-2]['loss'], 'val', r[-1]['val_loss'], 'mfu', r[-2].get('mfu'))"
done
log "eval on CUDA"; timeout 90 python3 eval.py --ckpt /tmp/smoke_triton/ckpt.pt --device cuda --splits S_eval --modes implicit,cot --no_progress 2>&1 | grep "^|"
log "GRPO on CUDA"; timeout 60 python3 train.py configs/smoke.py --stage=grpo --device=cuda --init_from=/tmp/smoke_triton/ckpt.pt --out_dir=/tmp/grpo --max_iters=3 --progress=false | tail -2
log "training throughput, default sizes"; timeout 60 python3 bench.py --device cuda --steps 20
log "training throughput, GPU sizes, bf16"; timeout 90 python3 bench.py --device cuda --bf16 --steps 20 --n_layer 8 --n_head 8 --n_embd 512 --block_size 1024 --batch_size 16 --vocab_size 560
log "torch.compile"; timeout 150 python3 train.py configs/smoke.py --device=cuda --compile=true --out_dir=/tmp/smoke_compile --max_iters=30 --progress=false | tail -2
} 2>&1 | tee "$OUT/gpu_check.log"
