"""python -m kernels.bench: Triton flash attention vs PyTorch SDPA vs naive attention.

GPU: B=4, H=16, bf16, T in {1k, 2k, 4k, 8k}, D in {64, 128}, 1 and 8 documents per row (causal within
documents).  Medians of CUDA-event timings (triton.testing.do_bench).  TFLOP/s count only unmasked work:
4*D flops per visible (query, key) pair forward, 3.5x that for forward+backward.  Also prints the
relative error of triton's output and gradients against SDPA with the explicit mask.
CPU: says so and runs a small correctness check under TRITON_INTERPRET=1 instead.
"""
import os
import shutil

if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kernels  # noqa: E402

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


def gpu_bench(B=4, H=16, Ts=(1024, 2048, 4096, 8192), Ds=(64, 128), docs=(1, 8), naive_max_T=4096, rep=25):
    from triton.testing import do_bench

    dev, dt, gen = DEVICE, DTYPE, torch.Generator().manual_seed(0)
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {__import__('triton').__version__}")
    print(f"B={B} H={H} bf16, causal within documents; ms = median of CUDA-event timings; TFLOP/s on unmasked work\n")
    print("| D | T | docs | impl | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    errs = []
    for D in Ds:
        for T in Ts:
            for nd in docs:
                q, k, v = (torch.randn(B, H, T, D, generator=gen).to(dev, dt).requires_grad_() for _ in range(3))
                do = torch.randn(B, H, T, D, generator=gen).to(dev, dt)
                doc_ids = make_doc_ids(B, T, nd, gen).to(dev)
                mask = dense_mask(doc_ids)
                flops = 4.0 * D * H * visible_pairs(doc_ids)
                impls = {"triton": lambda: kernels.attention(q, k, v, doc_ids=doc_ids)}
                if nd == 1:
                    impls["sdpa is_causal"] = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
                    impls["sdpa flash is_causal"] = lambda: _sdpa_flash(q, k, v)
                impls["sdpa mask"] = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                if T <= naive_max_T:
                    impls["naive"] = lambda: naive(q, k, v, mask)
                # correctness of the autotuned kernels at this size, against SDPA with the explicit mask
                res = {}
                for name in ("triton", "sdpa mask"):
                    out = impls[name]()
                    res[name] = (out, *torch.autograd.grad(out, (q, k, v), do))
                errs.append(max(rel(a, b) for a, b in zip(res["triton"], res["sdpa mask"])))
                del res, out
                for name, fn in impls.items():
                    def fwd_bwd(fn=fn):
                        fn().backward(do)
                    try:
                        with torch.no_grad():
                            t_f = do_bench(fn, warmup=10, rep=rep, return_mode="median")
                        t_fb = do_bench(fwd_bwd, warmup=10, rep=rep, grad_to_none=[q, k, v], return_mode="median")
                    except Exception as e:  # e.g. a backend this build lacks: keep the rest of the table
                        print(f"| {D} | {T} | {nd} | {name} | failed: {type(e).__name__}: {str(e)[:80]} | | | |")
                        continue
                    print(f"| {D} | {T} | {nd} | {name} | {t_f:.3f} | {flops / t_f * 1e-9:.1f} | "
                          f"{t_fb:.3f} | {3.5 * flops / t_fb * 1e-9:.1f} |", flush=True)
                del q, k, v, do, mask
                torch.cuda.empty_cache()
    host_overhead()
    print(f"\nmax relative error of triton (out, dq, dk, dv) vs SDPA with mask, bf16: {max(errs):.2e}")


def cpu_check():
    print("No CUDA GPU: no timings.  Small correctness check under TRITON_INTERPRET=1 (fp32) instead.")
    gen = torch.Generator().manual_seed(0)
    B, H, T, D = 2, 2, 70, 32
    q, k, v = (torch.randn(B, H, T, D, generator=gen, dtype=torch.float64) for _ in range(3))
    doc_ids = make_doc_ids(B, T, 3, gen)
    ref = torch.softmax((q @ k.transpose(-1, -2) * D ** -0.5).masked_fill(~dense_mask(doc_ids), float("-inf")), -1) @ v
    out = kernels.attention(q.float(), k.float(), v.float(), doc_ids=doc_ids)
    err = rel(out.double(), ref)
    print(f"B={B} H={H} T={T} D={D}, 3 documents per row: ||out - ref|| / ||ref|| = {err:.2e} (float64 reference)")
    assert err < 1e-5, err


if __name__ == "__main__":
    gpu_bench() if torch.cuda.is_available() else cpu_check()
