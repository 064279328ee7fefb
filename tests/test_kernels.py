"""kernels.attention (Triton flash attention) against a float64 PyTorch reference with the same mask.

CPU: runs under TRITON_INTERPRET=1 (tests/conftest.py sets it), fp32 and fp16.  CUDA: the same tests
plus bf16, with fixed 64x64 blocks (KERNELS_AUTOTUNE=0) to keep compile time low; `python -m kernels.bench`
checks the autotuned configurations.  Every output buffer starts as NaN, so unwritten elements fail.
"""
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")
import kernels  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
if not CUDA and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("no CUDA GPU and TRITON_INTERPRET is not 1", allow_module_level=True)
from kernels import flash_attention as fa  # noqa: E402  (imports triton: after the interpreter check)

DTYPES = [torch.float32, torch.float16] + ([torch.bfloat16] if CUDA else [])
# ||x - ref|| / ||ref|| bounds.  fp32 dots run in IEEE fp32 (no TF32), so fp32 is near machine precision;
# fp16/bf16 bounds are a few times the rounding of the inputs/P/dS to that dtype (unit roundoff 5e-4 / 4e-3).
TOL = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 2.5e-2}


@pytest.fixture(autouse=True)
def _poison_and_fixed_blocks(monkeypatch):
    monkeypatch.setattr(fa, "_poison_buffers", True)
    monkeypatch.setenv("KERNELS_AUTOTUNE", "0")


def doc_ids_from_lengths(rows, gen):
    """One row of arbitrary integer ids (not from 0, not sorted) per list of document lengths."""
    out = []
    for lengths in rows:
        ids = torch.randperm(1000, generator=gen)[: len(lengths)] - 500
        out.append(torch.cat([torch.full((n,), int(i)) for n, i in zip(lengths, ids)]))
    return torch.stack(out)


def reference(q, k, v, doc_ids, causal, scale):
    """Float64 attention with an explicit mask built from doc id equality (and tril if causal)."""
    T = q.shape[2]
    s = (q.double() @ k.double().transpose(-1, -2)) * scale
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device)
    if causal:
        mask = mask.tril()
    if doc_ids is not None:
        mask = mask & (doc_ids[:, None, :, None] == doc_ids[:, None, None, :])
    return s.masked_fill(~mask, float("-inf")).softmax(-1) @ v.double()


def rel_err(x, ref):
    """||x - ref|| / ||ref||; the absolute error where ref is exactly 0 (e.g. dq, dk when T = 1)."""
    err, norm = (x.double() - ref).norm().item(), ref.norm().item()
    return err / norm if norm > 0 else err


def check(q, k, v, doc_ids, causal, scale=None, do=None, tol=None, label=""):
    """Compare out, dq, dk, dv with the float64 reference; returns the relative errors."""
    q, k, v = (x.detach().requires_grad_() for x in (q, k, v))
    out = kernels.attention(q, k, v, doc_ids=doc_ids, causal=causal, scale=scale)
    assert out.shape == q.shape and out.dtype == q.dtype
    do = torch.randn_like(out) if do is None else do
    grads = torch.autograd.grad(out, (q, k, v), do)
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    ref = reference(q64, k64, v64, doc_ids, causal, q.shape[-1] ** -0.5 if scale is None else scale)
    ref_grads = torch.autograd.grad(ref, (q64, k64, v64), do.double())
    errs = {"out": rel_err(out, ref)}
    errs.update({n: rel_err(g, r) for n, g, r in zip(("dq", "dk", "dv"), grads, ref_grads)})
    print(f"\n{label} {str(q.dtype):14s} " + " ".join(f"{n}={e:.2e}" for n, e in errs.items()))
    tol = TOL[q.dtype] if tol is None else tol
    for name, e in errs.items():
        assert e < tol, f"{name}: relative error {e:.3e} >= {tol:.1e}"  # NaN (unwritten) fails too
    return errs


# (B, H, T, D, document lengths per row or None, causal, scale)
CASES = {
    "odd_T_one_doc": (1, 2, 37, 16, [[37]], True, None),
    "rows_2_many_1_docs": (3, 2, 50, 32, [[20, 30], [1, 5, 1, 13, 2, 27, 1], [50]], True, None),
    "D64_block_multiple": (2, 1, 64, 64, [[1, 1, 1, 61], [16, 16, 16, 16]], True, None),
    "noncausal_docs": (2, 2, 45, 32, [[7, 38], [1, 44]], False, 0.3),
    "noncausal_plain": (1, 2, 33, 16, None, False, None),
    "causal_plain_D48": (1, 2, 50, 48, None, True, None),
    "T1": (2, 1, 1, 16, [[1], [1]], True, None),
}


# Every case in every dtype, except on CUDA where D=48 (padded head dim) runs in bf16 only: each
# (dtype, D) pair compiles four kernels, and compile time dominates the GPU run of this file.
PARAMS = [pytest.param(case, dt, id=f"{case}-{str(dt).split('.')[-1]}") for case in CASES for dt in DTYPES
          if not (CUDA and CASES[case][3] == 48 and dt != torch.bfloat16)]


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_against_float64_reference(case, dtype):
    B, H, T, D, docs, causal, scale = CASES[case]
    gen = torch.Generator().manual_seed(sum(map(ord, case)))
    q, k, v = (torch.randn(B, H, T, D, generator=gen).to(DEVICE, dtype) for _ in range(3))
    doc_ids = None if docs is None else doc_ids_from_lengths(docs, gen).to(DEVICE)
    check(q, k, v, doc_ids, causal, scale, label=case)


def test_non_contiguous_inputs_and_grad():
    """q, k, v as views of one fused (B, T, 3, H, D) projection; v and dO with a non-unit last stride."""
    gen = torch.Generator().manual_seed(1)
    B, T, H, D = 2, 40, 2, 32
    qkv = torch.randn(B, T, 3, H, D, generator=gen).to(DEVICE)
    q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)
    v = torch.randn(B, H, D, T, generator=gen).to(DEVICE).transpose(-1, -2)
    do = torch.randn(B, T, H, D, generator=gen).to(DEVICE).transpose(1, 2)
    assert not q.is_contiguous() and v.stride(-1) != 1 and not do.is_contiguous()
    doc_ids = doc_ids_from_lengths([[10, 30], [3, 3, 34]], gen).to(DEVICE)
    check(q, k, v, doc_ids, True, do=do, label="non_contiguous")


def test_doc_ids_changed_in_place_are_seen():
    """The wrapper caches the per-doc_ids intervals; an in-place change of doc_ids must invalidate them."""
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 1, 30, 16, generator=gen).to(DEVICE) for _ in range(3))
    doc_ids = doc_ids_from_lengths([[30], [10, 20]], gen).to(DEVICE)
    check(q, k, v, doc_ids, True, label="doc_ids_before")
    doc_ids[0, 12:] = 777
    check(q, k, v, doc_ids, True, label="doc_ids_after")


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # the interpreter's max over the poisoned rows
@pytest.mark.parametrize("causal", [True, False])
def test_masked_tiles_are_skipped(causal):
    """Keys no query of a block may see are never read: make them NaN and the visible outputs stay exact.
    Two documents of 128 tokens (any block size <= 128 splits them cleanly); causal: also NaN keys of
    the second half when only the first document is checked."""
    gen = torch.Generator().manual_seed(2)
    B, H, T, D = 1, 1, 256, 16
    q, k, v = (torch.randn(B, H, T, D, generator=gen).to(DEVICE) for _ in range(3))
    doc_ids = torch.tensor([[3] * 128 + [4] * 128], device=DEVICE)
    kn, vn = k.clone(), v.clone()
    kn[:, :, :128], vn[:, :, :128] = float("nan"), float("nan")  # document 1 poisoned ...
    q, kn, vn = (x.requires_grad_() for x in (q, kn, vn))
    out = kernels.attention(q, kn, vn, doc_ids=doc_ids, causal=causal)
    do = torch.randn_like(out)
    dq, dk, dv = torch.autograd.grad(out, (q, kn, vn), do)
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    ref = reference(q64, k64, v64, doc_ids, causal, D ** -0.5)  # ... document 2 must not notice
    ref_dq, ref_dk, ref_dv = torch.autograd.grad(ref, (q64, k64, v64), do.double())
    s = slice(128, None)
    for x, r in ((out, ref), (dq, ref_dq), (dk, ref_dk), (dv, ref_dv)):
        assert rel_err(x[:, :, s], r[:, :, s]) < TOL[torch.float32]
    if causal:  # no docs: future keys poisoned, first half of the queries must not notice
        kf, vf = k.clone(), v.clone()
        kf[:, :, 128:], vf[:, :, 128:] = float("nan"), float("nan")
        out = kernels.attention(q, kf, vf, doc_ids=None, causal=True)
        ref = reference(q, k, v, None, True, D ** -0.5)
        assert rel_err(out[:, :, :128], ref[:, :, :128]) < TOL[torch.float32]


def test_cpu_without_interpreter_raises(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    x = torch.randn(1, 1, 4, 16)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU or TRITON_INTERPRET=1"):
        kernels.attention(x, x, x)


def test_import_without_triton():
    code = ("import sys; sys.modules['triton'] = None; import kernels; import torch\n"
            "try:\n    kernels.attention(*[torch.zeros(1, 1, 4, 16, device='cuda' if torch.cuda.is_available() "
            "else 'cpu')] * 3)\nexcept RuntimeError as e:\n    print('raised:', e)")
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert res.returncode == 0, res.stderr
    assert "raised: attn_backend='triton' needs the triton package" in res.stdout


def test_bench_variant_ab(monkeypatch, capsys):
    """`python -m kernels.bench --variant FILE`: the A/B table's logic, on CPU with a fake timer (the GPU
    timings themselves come from triton.testing.do_bench).  Our own file as the variant must come out
    bit-identical; a variant with another scale must not."""
    import triton.testing
    from kernels import bench
    monkeypatch.setattr(bench, "DEVICE", DEVICE)
    monkeypatch.setattr(bench, "DTYPE", torch.float32)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "test device")
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    calls = []

    def fake_do_bench(fn, warmup, rep, return_mode, grad_to_none=None):
        fn()
        calls.append(fn)
        return 2.0 if len(calls) % 4 in (1, 2) else 1.0  # kept 2 ms, variant 1 ms: ratio 2
    monkeypatch.setattr(triton.testing, "do_bench", fake_do_bench)
    same = bench.load_variant(fa.__file__)
    bench.ab_bench(same, B=1, H=1, Ts=(40,), Ds=(16,), docs=(1, 3))
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| 16 |")]
    assert len(rows) == 2 and all(r.endswith("| 2.000 | 0.0e+00 |") for r in rows), rows
    assert len(calls) == 2 * 2 * 2 * 2  # 2 shapes x 2 impls x (fwd, fwd+bwd) x twice

    class Other:
        @staticmethod
        def attention(q, k, v, doc_ids=None):
            return kernels.attention(q, k, v, doc_ids=doc_ids, scale=0.5)
    bench.ab_bench(Other, B=1, H=1, Ts=(40,), Ds=(16,), docs=(2,))
    row = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| 16 |")][0]
    assert float(row.split("|")[-2]) > 1e-2, row
