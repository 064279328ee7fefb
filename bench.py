"""Training-step throughput of train.py's model beside a plain nanoGPT-style baseline, in one process.

    python bench.py [--shape cpu|gpu|gpt2] [--device cpu|cuda] [--steps 20] [--compile] [--only baseline,docs]
Each variant's step is forward, backward, gradient clipping and AdamW; the train.py rows run pbb/training.py's
train_step with its make_optimizer, as pretraining does. Shapes (any size flag overrides its value):
    cpu   n_layer=4, n_head=4, n_embd=128, block_size=128, batch 32, vocab 512, fp32 (the default)
    gpu   the gpu preset's model (configs/pbb_common.py): 8 layers, 8 heads, width 512, block 512, batch 32, bf16
    gpt2  GPT-2 small: 12 layers, 12 heads, width 768, block 1024, vocab 50304, batch 16, bf16
On CUDA the timed steps run back to back between two CUDA events (after --warmup steps); on CPU each step is
timed on the host and the median is reported. MFU is against pbb/common.py's PEAK_FLOPS (CUDA cards listed there only).
"""
import argparse
import contextlib
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import GPT
from pbb.common import peak_flops
from pbb.config import DEFAULTS, model_config
from pbb.training import make_optimizer, train_step

SHAPES = {  # gpu: configs/pbb_common.py's gpu preset, with the vocabulary of its corpus (configs/corpus_full.py)
    "cpu": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32, vocab_size=512, bf16=False),
    "gpu": dict(n_layer=8, n_head=8, n_embd=512, block_size=512, batch_size=32, vocab_size=559, bf16=True),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=16, vocab_size=50304, bf16=True),
}
# key: (label, train.py config overrides (None: the baseline), documents: 'packed' (--docs a row), 'one' (one a
# row, as train.py passes it: doc ids all 0) or 'none' (model.py called without doc_ids: SDPA is_causal, no mask))
VARIANTS = {
    "baseline": ("nanoGPT-style baseline, one document a row", None, "none"),
    "causal": ("model.py, no doc_ids (is_causal), one document", {}, "none"),
    "one": ("train.py step, one document a row", {}, "one"),
    "docs": ("train.py step, packed documents", {}, "packed"),
    "allhead": ("train.py step, packed, head_all_positions", dict(head_all_positions=True), "packed"),
    "asbase": ("train.py step, learned pos + bias, one document", dict(pos_emb="learned", bias=True), "one"),
    "triton": ("train.py step, packed, triton attention", dict(attn_backend="triton"), "packed"),
    "flex": ("train.py step, packed, flex attention", dict(attn_backend="flex"), "packed"),
}
CUDA_ONLY = ("triton", "flex")


class BaselineBlock(nn.Module):
    """nanoGPT's block as written there (and its AdamW: fused on CUDA only): LayerNorm with bias, fused qkv, SDPA
    is_causal, GELU MLP."""

    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class Baseline(nn.Module):
    def __init__(self, V, T, L, H, C):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(BaselineBlock(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def time_steps(params, opt, step_fn, steps, warmup, device):
    """Seconds per training step: step_fn(i) (forward and backward of step i), clipping, the optimizer step."""
    def step(i):
        step_fn(i)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    for i in range(warmup):
        step(i)
    if device.startswith("cuda"):  # back to back, no host sync between steps: what the GPU sustains
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for i in range(steps):
            step(i)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / steps
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def batches(a, n_docs):
    """Two fixed batches of B * grad_accum rows (x, y, loss weights, doc ids), used in turn: about 10% of the
    loss weights are 0, a different 10% in each, as padding and document ends are in training."""
    g = torch.Generator().manual_seed(0)
    rows, T = a.batch_size * a.grad_accum, a.block_size
    doc = (torch.arange(T) // math.ceil(T / n_docs)).expand(rows, T).contiguous()
    out = []
    for _ in range(2):
        x, y = (torch.randint(0, a.vocab_size, (rows, T), generator=g) for _ in range(2))
        w = (torch.rand(rows, T, generator=g) > 0.1).float()
        out.append([t.to(a.device) for t in (x, y, w, doc)])
    return out


def run_variant(key, a, data, autocast):
    """(seconds per step, training FLOPs per token) of one variant."""
    _, overrides, docs = VARIANTS[key]
    B, T, accum = a.batch_size, a.block_size, a.grad_accum
    sizes = dict(vocab_size=a.vocab_size, block_size=T, n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd)
    torch.manual_seed(0)
    if a.compile:
        torch._dynamo.reset()  # each variant compiles afresh (no recompile limit shared between variants)
    if overrides is None:
        model = Baseline(a.vocab_size, T, a.n_layer, a.n_head, a.n_embd).to(a.device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=a.device.startswith("cuda"))
        n = sum(p.numel() for p in model.parameters()) - model.wpe.weight.numel()
        flops = 6 * n + 6 * a.n_layer * a.n_embd * T  # as GPT.flops_per_token
        fwd = torch.compile(model) if a.compile else model

        def step(i):
            x, y = data[i % 2][:2]
            for m in range(accum):
                with autocast:
                    loss = fwd(x[m * B:(m + 1) * B], y[m * B:(m + 1) * B]) / accum
                loss.backward()
    else:
        config = dict(DEFAULTS, **sizes, **overrides, batch_size=B, grad_accum=accum)
        model = GPT(model_config(config)).to(a.device)
        opt = make_optimizer(model, config)
        flops = model.flops_per_token(T)
        fwd = torch.compile(model) if a.compile else model

        def step(i):
            x, y, w, doc = data[i % 2]
            if docs != "none":
                train_step(fwd, x, y, w, doc if docs == "packed" else torch.zeros_like(doc), config, 0, 1, False,
                                 autocast)
                return
            for m in range(accum):
                with autocast:
                    loss = fwd(x[m * B:(m + 1) * B], y[m * B:(m + 1) * B], loss_weights=w[m * B:(m + 1) * B])[1] / accum
                loss.backward()
    seconds = time_steps(list(model.parameters()), opt, step, a.steps, a.warmup, a.device)
    model = opt = fwd = None  # freed before the next variant (the step closure is done with them)
    if a.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return seconds, flops


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="cpu")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    for k in ("batch_size", "block_size", "n_layer", "n_head", "n_embd", "vocab_size"):
        p.add_argument(f"--{k}", type=int)
    p.add_argument("--grad_accum", type=int, default=1)
    p.add_argument("--docs", type=int, default=4, help="documents a row in the packed variants")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (on by default for gpu and gpt2)")
    p.add_argument("--compile", action="store_true", help="torch.compile every model")
    p.add_argument("--only", default="", help=f"comma-separated variants of: {', '.join(VARIANTS)}")
    a = p.parse_args(argv)
    for k, v in SHAPES[a.shape].items():
        if getattr(a, k) in (None, False):
            setattr(a, k, v)
    keys = a.only.split(",") if a.only else [k for k in VARIANTS if a.device.startswith("cuda") or k not in CUDA_ONLY]
    unknown = [k for k in keys if k not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    keys = ["baseline"] + [k for k in keys if k != "baseline"]  # the first row, the one every row is compared with
    device_type = a.device.split(":")[0]
    autocast = torch.autocast(device_type, dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()
    peak = peak_flops(device_type)
    data = batches(a, a.docs)
    tokens = a.batch_size * a.grad_accum * a.block_size
    print(f"shape={a.shape} device={a.device} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"B={a.batch_size}x{a.grad_accum} T={a.block_size} L={a.n_layer} H={a.n_head} C={a.n_embd} "
          f"V={a.vocab_size} {'bf16 autocast' if a.bf16 else 'fp32'}{' compiled' if a.compile else ' eager'}"
          + (f" {torch.cuda.get_device_name()}" if a.device.startswith("cuda") else ""), flush=True)
    print(f"{'variant':48s} {'ms/step':>8s} {'tokens/s':>10s} {'MFU':>6s} {'vs baseline':>11s}", flush=True)
    first = None
    for k in keys:
        seconds, flops = run_variant(k, a, data, autocast)
        first = first or seconds
        mfu = f"{flops * tokens / seconds / peak:6.3f}" if peak else f"{'-':>6s}"
        print(f"{VARIANTS[k][0]:48s} {seconds * 1e3:8.2f} {tokens / seconds:10.0f} {mfu} {first / seconds:10.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
