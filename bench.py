"""CPU/GPU training-step throughput of model.py beside a plain nanoGPT-style baseline, in one run.

    python bench.py [--steps 20] [--device cpu]
Prints tokens/s and ms/step for each variant at n_layer=4, n_head=4, n_embd=128, block_size=128,
batch 32, vocab 512, fp32 (the sizes are flags).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import GPT, GPTConfig


class BaselineBlock(nn.Module):
    """nanoGPT's block as written there (and its AdamW: fused on CUDA only): LayerNorm with bias, fused qkv, SDPA is_causal, GELU MLP."""

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


def time_steps(model, step_fn, steps, device, fused=None):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    times = []
    for i in range(steps + 3):  # 3 warm-up steps
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times = sorted(times[3:])
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--block_size", type=int, default=128)
    p.add_argument("--n_layer", type=int, default=4)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_embd", type=int, default=128)
    p.add_argument("--vocab_size", type=int, default=512)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    a = p.parse_args()
    B, T = a.batch_size, a.block_size
    torch.manual_seed(0)
    idx = torch.randint(0, a.vocab_size, (B, T), device=a.device)
    tgt = torch.randint(0, a.vocab_size, (B, T), device=a.device)
    w = torch.ones(B, T, device=a.device)
    doc = torch.arange(T, device=a.device).div(T // 4, rounding_mode="floor").expand(B, T)  # 4 documents a row
    sizes = dict(vocab_size=a.vocab_size, block_size=T, n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd)
    rows = []
    if a.bf16:
        torch.autocast(a.device, dtype=torch.bfloat16).__enter__()  # for the whole benchmark
    base = Baseline(a.vocab_size, T, a.n_layer, a.n_head, a.n_embd).to(a.device)
    rows.append(("nanoGPT-style baseline (one document a row)", time_steps(base, lambda: base(idx, tgt), a.steps, a.device, fused=a.device == "cuda")))
    variants = [("model.py defaults, one document a row", {}, None),
                ("model.py defaults, 4 documents a row", {}, doc),
                ("model.py as baseline (learned pos, bias), one document", dict(pos_emb="learned", bias=True), None)]
    if a.device == "cuda":
        variants.append(("model.py, triton attention, 4 documents a row", dict(attn_backend="triton"), doc))
        variants.append(("model.py, flex attention, 4 documents a row", dict(attn_backend="flex"), doc))
    for name, kw, docs in variants:
        m = GPT(GPTConfig(**sizes, **kw)).to(a.device)
        rows.append((name, time_steps(m, lambda: m(idx, tgt, loss_weights=w, doc_ids=docs)[1], a.steps, a.device, fused=True)))
    print(f"device={a.device} threads={torch.get_num_threads()} torch={torch.__version__} B={B} T={T} "
          f"L={a.n_layer} H={a.n_head} C={a.n_embd} V={a.vocab_size} {'bf16 autocast' if a.bf16 else 'fp32'}"
          + (f" {torch.cuda.get_device_name()}" if a.device == "cuda" else ""))
    print(f"{'variant':58s} {'ms/step':>8s} {'tokens/s':>10s} {'vs baseline':>11s}")
    for name, t in rows:
        print(f"{name:58s} {t * 1e3:8.1f} {B * T / t:10.0f} {rows[0][1] / t:10.2f}x")


if __name__ == "__main__":
    main()
