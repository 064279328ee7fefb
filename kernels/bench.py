"""python -m kernels.bench: Triton flash attention vs FlexAttention vs PyTorch SDPA vs naive attention.

GPU: B=4, H=16, bf16, T in {1k, 2k, 4k, 8k}, D in {64, 128}, 1 and 8 documents per row (causal within
documents).  Medians of CUDA-event timings (triton.testing.do_bench).  TFLOP/s count only unmasked work:
4*D flops per visible (query, key) pair forward, 3.5x that for forward+backward.  Also prints the
relative error of triton's output and gradients against SDPA with the explicit mask.
CPU: says so and runs a small correctness check under TRITON_INTERPRET=1 instead.

    python -m kernels.bench                          # the full table (kernels/BENCH.md)
    python -m kernels.bench --T 8192 --D 64          # a subset of the shapes
    python -m kernels.bench --variant my_attn.py     # A/B: a modified copy of flash_attention.py

--variant times our kernel and the file's `attention` on the same inputs, alternately in one process
(kept, variant, kept, variant), and prints the ratio and how far apart their outputs and gradients are;
on CPU it runs the correctness check on both.
"""
import argparse
import importlib.util
import os
import shutil
import sys

if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kernels  # noqa: E402
from model import doc_block_mask, flex  # noqa: E402  (FlexAttention, what a user would pick instead)

DEVICE, DTYPE = "cuda", torch.bfloat16


def make_doc_ids(B, T, ndocs, gen):
    """ndocs contiguous documents of random lengths per row, with arbitrary ids."""
    rows = []
    for _ in range(B):
        cuts = torch.sort(torch.randperm(T - 1, generator=gen)[: ndocs - 1] + 1).values.tolist()
        lengths = [b - a for a, b in zip([0] + cuts, cuts + [T])]
        rows.append(torch.cat([torch.full((n,), 100 + 7 * i) for i, n in enumerate(lengths)]))
    return torch.stack(rows)


def dense_mask(doc_ids):
    T = doc_ids.shape[1]
    same = doc_ids[:, None, :, None] == doc_ids[:, None, None, :]
    return same & torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()


def visible_pairs(doc_ids):
    """Number of (query, key) pairs a causal document mask keeps, summed over the batch."""
    new = torch.ones_like(doc_ids, dtype=torch.bool)
    new[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]  # a document starts (every row starts one)
    _, lengths = torch.unique_consecutive(new.flatten().cumsum(0), return_counts=True)
    return int((lengths * (lengths + 1) // 2).sum())


def naive(q, k, v, mask):
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    return torch.softmax(s.masked_fill(~mask, float("-inf")).float(), dim=-1).to(q.dtype) @ v


def _sdpa_flash(q, k, v):
    """SDPA forced onto its FlashAttention-2 backend (plain SDPA may pick cuDNN on Hopper)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def host_overhead(B=4, H=16, T=1024, D=64, n=50):
    """CPU time per call, launches only (no synchronisation): the floor of the timings at small sizes."""
    import time
    q, k, v = (torch.randn(B, H, T, D, device=DEVICE, dtype=DTYPE, requires_grad=True) for _ in range(3))
    do, doc_ids = torch.randn_like(q), torch.zeros(B, T, dtype=torch.long, device=DEVICE)
    res = {}
    for name, fn in (("triton fwd", lambda: kernels.attention(q, k, v, doc_ids=doc_ids)),
                     ("triton fwd+bwd", lambda: kernels.attention(q, k, v, doc_ids=doc_ids).backward(do)),
                     ("sdpa fwd+bwd", lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(do))):
        fn()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        res[name] = (time.perf_counter() - t0) / n * 1e6
        torch.cuda.synchronize()
    print("host time per call, T=1024 (launch overhead): " + ", ".join(f"{k} {v:.0f} us" for k, v in res.items()))


def rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def make_inputs(B, H, T, D, ndocs, gen):
    """q, k, v (requiring grad), dO and doc_ids for one shape, on DEVICE in DTYPE."""
    q, k, v = (torch.randn(B, H, T, D, generator=gen).to(DEVICE, DTYPE).requires_grad_() for _ in range(3))
    do = torch.randn(B, H, T, D, generator=gen).to(DEVICE, DTYPE)
    return q, k, v, do, make_doc_ids(B, T, ndocs, gen).to(DEVICE)


def out_and_grads(fn, q, k, v, do):
    out = fn()
    return (out, *torch.autograd.grad(out, (q, k, v), do))


def time_fwd_and_fwd_bwd(fn, q, k, v, do, rep):
    """Median ms of fn() without grad, and of fn().backward(do)."""
    from triton.testing import do_bench
    with torch.no_grad():
        t_f = do_bench(fn, warmup=10, rep=rep, return_mode="median")
    t_fb = do_bench(lambda: fn().backward(do), warmup=10, rep=rep, grad_to_none=[q, k, v], return_mode="median")
    return t_f, t_fb


def gpu_bench(B=4, H=16, Ts=(1024, 2048, 4096, 8192), Ds=(64, 128), docs=(1, 8), naive_max_T=4096, rep=25):
    gen = torch.Generator().manual_seed(0)
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {__import__('triton').__version__}")
    print(f"B={B} H={H} bf16, causal within documents; ms = median of CUDA-event timings; TFLOP/s on unmasked work\n")
    print("| D | T | docs | impl | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    errs, flex_errs = [], []
    for D in Ds:
        for T in Ts:
            for nd in docs:
                q, k, v, do, doc_ids = make_inputs(B, H, T, D, nd, gen)
                mask = dense_mask(doc_ids)
                flops = 4.0 * D * H * visible_pairs(doc_ids)
                block_mask = doc_block_mask(doc_ids, T, DEVICE)  # built once per batch, as model.py does
                impls = {"triton": lambda: kernels.attention(q, k, v, doc_ids=doc_ids),
                         "flex": lambda: flex(q, k, v, block_mask)}
                if nd == 1:
                    impls["sdpa is_causal"] = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
                    impls["sdpa flash is_causal"] = lambda: _sdpa_flash(q, k, v)
                impls["sdpa mask"] = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                if T <= naive_max_T:
                    impls["naive"] = lambda: naive(q, k, v, mask)
                # correctness of the autotuned kernels at this size, against SDPA with the explicit mask
                res = {name: out_and_grads(impls[name], q, k, v, do) for name in ("triton", "flex", "sdpa mask")}
                errs.append(max(rel(a, b) for a, b in zip(res["triton"], res["sdpa mask"])))
                flex_errs.append(max(rel(a, b) for a, b in zip(res["flex"], res["sdpa mask"])))  # also compiles it
                del res
                for name, fn in impls.items():
                    try:
                        t_f, t_fb = time_fwd_and_fwd_bwd(fn, q, k, v, do, rep)
                    except Exception as e:  # e.g. a backend this build lacks: keep the rest of the table
                        print(f"| {D} | {T} | {nd} | {name} | failed: {type(e).__name__}: {str(e)[:80]} | | | |")
                        continue
                    print(f"| {D} | {T} | {nd} | {name} | {t_f:.3f} | {flops / t_f * 1e-9:.1f} | "
                          f"{t_fb:.3f} | {3.5 * flops / t_fb * 1e-9:.1f} |", flush=True)
                q = k = v = do = mask = None  # freed before the next shape
                torch.cuda.empty_cache()
    host_overhead()
    print(f"\nmax relative error of triton (out, dq, dk, dv) vs SDPA with mask, bf16: {max(errs):.2e}; "
          f"of FlexAttention: {max(flex_errs):.2e}")


def ab_bench(variant, B=4, H=16, Ts=(1024, 2048, 4096, 8192), Ds=(64, 128), docs=(1, 8), rep=25):
    """kernels.attention (kept) vs variant.attention on the same inputs; ratio > 1: the variant is faster."""
    gen = torch.Generator().manual_seed(0)
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {__import__('triton').__version__}")
    print(f"B={B} H={H} {str(DTYPE).split('.')[-1]}; "
          "ms = median of CUDA-event timings, each impl timed twice, alternately; "
          "diff = max relative difference of out, dq, dk, dv (0 = bit-identical); "
          "ratio = kept / variant fwd+bwd ms (> 1: the variant is faster)\n")
    print("| D | T | docs | kept fwd ms | variant fwd ms | kept fwd+bwd ms | variant fwd+bwd ms | ratio | diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for D in Ds:
        for T in Ts:
            for nd in docs:
                q, k, v, do, doc_ids = make_inputs(B, H, T, D, nd, gen)
                impls = {name: (lambda attn=attn: attn(q, k, v, doc_ids=doc_ids))
                         for name, attn in (("kept", kernels.attention), ("variant", variant.attention))}
                res = {name: out_and_grads(fn, q, k, v, do) for name, fn in impls.items()}
                diff = max(rel(a, b) for a, b in zip(res["variant"], res["kept"]))
                del res
                times = {name: [] for name in impls}
                for _ in range(2):  # alternately: kept, variant, kept, variant
                    for name, fn in impls.items():
                        times[name].append(time_fwd_and_fwd_bwd(fn, q, k, v, do, rep))
                t = {}
                for name, runs in times.items():  # the better of the two medians, fwd and fwd+bwd
                    t[name, "f"], t[name, "fb"] = (min(x) for x in zip(*runs))
                print(f"| {D} | {T} | {nd} | {t['kept', 'f']:.3f} | {t['variant', 'f']:.3f} | {t['kept', 'fb']:.3f} | "
                      f"{t['variant', 'fb']:.3f} | {t['kept', 'fb'] / t['variant', 'fb']:.3f} | {diff:.1e} |",
                      flush=True)
                q = k = v = do = None  # freed before the next shape
                torch.cuda.empty_cache()


def load_variant(path):
    """The module at `path` (a modified copy of kernels/flash_attention.py); exits with one line if unusable."""
    if not os.path.isfile(path):
        sys.exit(f"--variant {path}: no such file; pass a modified copy of kernels/flash_attention.py")
    spec = importlib.util.spec_from_file_location("attention_variant", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.exit(f"--variant {path}: importing it failed: {type(e).__name__}: {e}")
    if not callable(getattr(module, "attention", None)):
        sys.exit(f"--variant {path}: it defines no attention(q, k, v, doc_ids=None, ...) function")
    return module


def cpu_check(attention=None, label="kernels.attention"):
    attention = attention or kernels.attention
    print(f"{label}: no CUDA GPU, no timings.  Small correctness check under TRITON_INTERPRET=1 (fp32) instead.")
    gen = torch.Generator().manual_seed(0)
    B, H, T, D = 2, 2, 70, 32
    q, k, v = (torch.randn(B, H, T, D, generator=gen, dtype=torch.float64) for _ in range(3))
    doc_ids = make_doc_ids(B, T, 3, gen)
    ref = torch.softmax((q @ k.transpose(-1, -2) * D ** -0.5).masked_fill(~dense_mask(doc_ids), float("-inf")), -1) @ v
    out = attention(q.float(), k.float(), v.float(), doc_ids=doc_ids)
    err = rel(out.double(), ref)
    print(f"B={B} H={H} T={T} D={D}, 3 documents per row: ||out - ref|| / ||ref|| = {err:.2e} (float64 reference)")
    if not err < 1e-5:
        sys.exit(f"{label}: relative error {err:.2e} is not under 1e-5: the result is wrong")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m kernels.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, nargs="+", default=[1024, 2048, 4096, 8192], help="sequence lengths")
    ap.add_argument("--D", type=int, nargs="+", default=[64, 128], help="head dims")
    ap.add_argument("--docs", type=int, nargs="+", default=[1, 8], help="documents per row")
    ap.add_argument("--rep", type=int, default=25, help="ms of repetitions per timing (do_bench rep)")
    ap.add_argument("--variant", help="a modified copy of kernels/flash_attention.py to compare against ours")
    args = ap.parse_args(argv)
    for name in ("T", "D", "docs"):
        bad = [x for x in getattr(args, name)
               if x < 1 or (name == "D" and x > 128) or (name == "docs" and x > min(args.T))]
        if bad:
            ap.error(f"--{name} {bad[0]} is out of range (T >= 1, 1 <= D <= 128, 1 <= docs <= min(T))")
    variant = load_variant(args.variant) if args.variant else None
    shapes = dict(Ts=tuple(args.T), Ds=tuple(args.D), docs=tuple(args.docs), rep=args.rep)
    if not torch.cuda.is_available():
        cpu_check()
        if variant:
            cpu_check(variant.attention, f"variant {args.variant}")
    elif variant:
        ab_bench(variant, **shapes)
    else:
        gpu_bench(**shapes)


if __name__ == "__main__":
    main()
