"""kernels.attention (Triton flash attention) against a float64 PyTorch reference with the same mask.

CPU: runs under TRITON_INTERPRET=1 (tests/conftest.py sets it wherever torch sees no CUDA GPU), fp32 and
fp16.  CUDA: the same tests compiled, plus bf16, with fixed 64x64 blocks (KERNELS_AUTOTUNE=0) to keep
compile time low, and every autotune configuration forced once (test_forced_autotune_configs);
`python -m kernels.bench` times the autotuned kernels.  Every output buffer starts as NaN, so unwritten
elements fail.  Without triton only the tests that do not need it run (the others are skipped as such).

Each result is checked twice: over the whole tensor, and row by row (a query row that sees one key too
many changes one row of B*H*T, which a whole-tensor norm averages away).
"""
import importlib.util
import os
import subprocess
import sys

import pytest
import torch

import kernels
import model

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
HAS_TRITON = importlib.util.find_spec("triton") is not None
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
if HAS_TRITON:
    from kernels import flash_attention as fa  # imports triton: after conftest.py chose interpreter or not

DTYPES = [torch.float32, torch.float16] + ([torch.bfloat16] if CUDA else [])
U = {torch.float32: 2.0 ** -24, torch.float16: 2.0 ** -11, torch.bfloat16: 2.0 ** -8}  # unit roundoff
# Whole tensors, ||x - ref|| / ||ref||.  fp32 dots run in IEEE fp32 (no TF32), so fp32 is near machine
# precision; fp16/bf16 bounds are a few times the rounding of the inputs/P/dS to that dtype.
TOL = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 2.5e-2}
# Rows: max_i ||x_i - ref_i|| / scale_i, scale_i = ||ref_i|| for out and dV, grad_row_scales for dQ and dK.
# fp16/bf16: the inputs are exact in both and products and sums are fp32; the error is the kernel's
# rounding of P, dS, O (delta is computed from it) and the result to the dtype, each within u of the
# terms: measured <= 1.3 u on CPU (H200, whole tensors: <= 0.85 u).  Bound 4 u: 2.0e-3 fp16, 1.6e-2 bf16.
# fp32: the dtype's rounding is as small as the errors of the dots and of exp2/log2 (approximate
# instructions on a GPU); measured <= 12 u on CPU (H200, whole tensors: <= 6 u).  Bound 64 u: 3.8e-6.
ROW_TOL = {torch.float32: 64 * U[torch.float32], torch.float16: 4 * U[torch.float16],
           torch.bfloat16: 4 * U[torch.bfloat16]}


@pytest.fixture(autouse=True)
def _poison_and_fixed_blocks(monkeypatch):
    if HAS_TRITON:
        monkeypatch.setattr(fa, "_poison_buffers", True)
    monkeypatch.setenv("KERNELS_AUTOTUNE", "0")


def doc_ids_from_lengths(rows, gen):
    """One row of arbitrary integer ids (not from 0, not sorted) per list of document lengths."""
    out = []
    for lengths in rows:
        ids = torch.randperm(1000, generator=gen)[: len(lengths)] - 500
        out.append(torch.cat([torch.full((n,), int(i)) for n, i in zip(lengths, ids)]))
    return torch.stack(out)


def doc_mask(doc_ids, T, causal, device):
    """(B or 1, 1, T, T) bool: query i sees key j.  A document is a maximal run of equal ids, so a later
    run of an id is a new document (as in model.doc_causal_mask), not the first run continued."""
    mask = torch.ones(1, 1, T, T, dtype=torch.bool, device=device)
    if causal:
        mask = mask.tril()
    if doc_ids is not None:
        new_run = torch.cat([torch.zeros_like(doc_ids[:, :1]), (doc_ids[:, 1:] != doc_ids[:, :-1]).long()], 1)
        run = new_run.cumsum(1)
        mask = mask & (run[:, None, :, None] == run[:, None, None, :])
    return mask


def probs(q, k, doc_ids, causal, scale):
    """Float64 attention probabilities P (B, H, T, T) with an explicit mask."""
    s = (q.double() @ k.double().transpose(-1, -2)) * scale
    return s.masked_fill(~doc_mask(doc_ids, q.shape[2], causal, q.device), float("-inf")).softmax(-1)


def reference(q, k, v, doc_ids, causal, scale):
    return probs(q, k, doc_ids, causal, scale) @ v.double()


def grad_row_scales(q, k, v, do, doc_ids, causal, scale):
    """Scale of each row of dQ and of dK, float64 (B, H, T): the summed magnitudes of the row's terms,
    scale * sum_j P_ij (|dP_ij| + sum_d |dO_id O_id|) ||k_j|| for dQ_i (for dK_j: sum over i, ||q_i||).
    dS = P (dP - delta) subtracts nearly equal numbers, so a dQ/dK row's own norm can be ~0 (exactly 0
    for a query that sees one key) while the rounding of its terms (dS, and delta from the rounded O) is
    not: a sum's rounding error is bounded relative to its terms, not to the sum (measured against their
    own norm, dQ/dK rows reach 250 u in fp16 while the kernel is right).  Out and dV rows are sums with
    positive weights P, measured against their own norm."""
    q, k, v, do = (x.detach().double() for x in (q, k, v, do))
    p = probs(q, k, doc_ids, causal, scale)
    terms = p * ((do @ v.transpose(-1, -2)).abs() + (do * (p @ v)).abs().sum(-1, keepdim=True))
    dq_scale = scale * (terms @ k.norm(dim=-1, keepdim=True))[..., 0]
    dk_scale = scale * (terms.transpose(-1, -2) @ q.norm(dim=-1, keepdim=True))[..., 0]
    return dq_scale, dk_scale


def rel_err(x, ref):
    """||x - ref|| / ||ref||; the absolute error where ref is exactly 0 (e.g. dq, dk when T = 1)."""
    err, norm = (x.double() - ref).norm().item(), ref.norm().item()
    return err / norm if norm > 0 else err


def row_err(x, ref, scale=None):
    """(max over rows of ||x_i - ref_i|| / scale_i, that row's (b, h, t)); scale defaults to ||ref_i||.
    An exact row counts 0 (0 / 0 included); a NaN anywhere gives NaN, which fails every bound."""
    err = (x.double() - ref).norm(dim=-1)
    scale = ref.norm(dim=-1) if scale is None else scale
    e = torch.where(err == 0, 0.0, err / scale)
    i = int(e.flatten().nan_to_num(float("inf")).argmax())
    return e.flatten().max().item(), tuple(int(j) for j in torch.unravel_index(torch.tensor(i), e.shape))


def errors(x, ref, scale=None):
    """(whole-tensor relative error, max row error, that row's (b, h, t))."""
    return (rel_err(x, ref), *row_err(x, ref, scale))


def assert_within(name, dtype, whole, row, where):
    assert whole < TOL[dtype], f"{name}: relative error {whole:.3e} >= {TOL[dtype]:.1e}"  # NaN fails too
    assert row < ROW_TOL[dtype], f"{name}: row (b, h, t) = {where}: relative error {row:.3e} >= {ROW_TOL[dtype]:.1e}"


def check(q, k, v, doc_ids, causal, scale=None, do=None, label=""):
    """Compare out, dq, dk, dv with the float64 reference, whole and per row; returns the errors."""
    q, k, v = (x.detach().requires_grad_() for x in (q, k, v))
    out = kernels.attention(q, k, v, doc_ids=doc_ids, causal=causal, scale=scale)
    assert out.shape == q.shape and out.dtype == q.dtype
    do = torch.randn(out.shape, generator=torch.Generator().manual_seed(0)).to(out) if do is None else do
    grads = torch.autograd.grad(out, (q, k, v), do)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    ref = reference(q64, k64, v64, doc_ids, causal, scale)
    ref_grads = torch.autograd.grad(ref, (q64, k64, v64), do.double())
    dq_scale, dk_scale = grad_row_scales(q, k, v, do, doc_ids, causal, scale)
    errs = {name: errors(x, r, s) for name, x, r, s in
            zip(("out", "dq", "dk", "dv"), (out, *grads), (ref, *ref_grads), (None, dq_scale, dk_scale, None))}
    print(f"\n{label} {str(q.dtype):14s} " + " ".join(f"{n}={e[0]:.2e} row {e[1]:.2e}" for n, e in errs.items()))
    for name, e in errs.items():
        assert_within(name, q.dtype, *e)
    return errs


# (B, H, T, D, document lengths per row or None, causal, scale)
CASES = {
    "odd_T_one_doc": (1, 2, 37, 16, [[37]], True, None),
    "rows_2_many_1_docs": (3, 2, 50, 32, [[20, 30], [1, 5, 1, 13, 2, 27, 1], [50]], True, None),
    "D64_block_multiple": (2, 1, 64, 64, [[1, 1, 1, 61], [16, 16, 16, 16]], True, None),
    "noncausal_docs": (2, 2, 45, 32, [[7, 38], [1, 44]], False, 0.3),
    "noncausal_plain": (1, 2, 33, 16, None, False, None),
    "causal_plain_D48": (1, 2, 50, 48, None, True, None),
    "D128_docs": (1, 1, 40, 128, [[1, 12, 27]], True, None),
    "T1": (2, 1, 1, 16, [[1], [1]], True, None),
}


# Every case in every dtype, except on CUDA where D=48 (padded head dim) runs in bf16 only and D=128 in
# fp32 and bf16: each (dtype, D) pair compiles four kernels, and compile time dominates the GPU run of this file.
CUDA_ONLY_DTYPES = {48: (torch.bfloat16,), 128: (torch.float32, torch.bfloat16)}
PARAMS = [pytest.param(case, dt, id=f"{case}-{str(dt).split('.')[-1]}") for case in CASES for dt in DTYPES
          if not CUDA or dt in CUDA_ONLY_DTYPES.get(CASES[case][3], DTYPES)]


@needs_triton
@pytest.mark.parametrize("case,dtype", PARAMS)
def test_against_float64_reference(case, dtype):
    B, H, T, D, docs, causal, scale = CASES[case]
    gen = torch.Generator().manual_seed(sum(map(ord, case)))
    q, k, v = (torch.randn(B, H, T, D, generator=gen).to(DEVICE, dtype) for _ in range(3))
    doc_ids = None if docs is None else doc_ids_from_lengths(docs, gen).to(DEVICE)
    check(q, k, v, doc_ids, causal, scale, label=case)


# Ids that come back: a later run of an id is a new document.  Row 0: two ids taking turns (five
# documents); row 1: one id on both sides of a padding id (three documents).
REPEATED_IDS = torch.tensor([[7] * 5 + [2] * 9 + [7] * 3 + [2] * 20 + [7] + [2] * 12,
                             [4] * 30 + [-1] * 4 + [4] * 16])


def test_reference_mask_is_the_models():
    """The reference's documents are the model's (model.doc_causal_mask), and REPEATED_IDS is a case where
    they differ from 'equal ids see each other'."""
    gen = torch.Generator().manual_seed(5)
    for doc_ids in (REPEATED_IDS, doc_ids_from_lengths([[3, 9, 1, 37], [50]], gen)):
        assert torch.equal(doc_mask(doc_ids, 50, True, "cpu"), model.doc_causal_mask(doc_ids))
    same_id = REPEATED_IDS[:, None, :, None] == REPEATED_IDS[:, None, None, :]
    for causal in (True, False):
        mask = doc_mask(REPEATED_IDS, 50, causal, "cpu")
        assert (same_id & ~mask).any(dim=(1, 2, 3)).all()  # in every row, equal ids that must not see each other


@needs_triton
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dt: str(dt).split(".")[-1])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "noncausal"])
def test_repeated_doc_ids_start_new_documents(causal, dtype):
    gen = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(2, 1, 50, 32, generator=gen).to(DEVICE, dtype) for _ in range(3))
    check(q, k, v, REPEATED_IDS.to(DEVICE), causal, label=f"repeated_ids causal={causal}")


def _forced_configs(i):
    """(autotuned kernel, its i-th config), the index wrapping around each kernel's list."""
    lists = ((fa._attn_fwd_tuned, fa._FWD_CONFIGS), (fa._attn_bwd_dkdv_tuned, fa._DKDV_CONFIGS),
             (fa._attn_bwd_dq_tuned, fa._DQ_CONFIGS))
    return [(tuned, configs[i % len(configs)]) for tuned, configs in lists]


N_CONFIGS = max(len(fa._FWD_CONFIGS), len(fa._DKDV_CONFIGS), len(fa._DQ_CONFIGS)) if HAS_TRITON else 1


@needs_triton
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "noncausal"])
@pytest.mark.parametrize("i", range(N_CONFIGS))
def test_forced_autotune_configs(i, causal, monkeypatch):
    """The GPU's block shapes (BLOCK_M != BLOCK_N, blocks of 128) through the autotuned launch path, one
    config per kernel: test i forces the i-th config of each kernel's autotune list, so every listed config
    runs.  D=128; T=200 gives several tiles of 128 and a partial last tile; documents of two ids taking
    turns cross tile boundaries."""
    import triton
    monkeypatch.setattr(fa, "INTERPRET", False)  # so that _launch takes the autotuned path on CPU too
    monkeypatch.setenv("KERNELS_AUTOTUNE", "1")
    forced = _forced_configs(i)
    for tuned, config in forced:
        monkeypatch.setattr(tuned, "configs", [config])  # a single config is run without benchmarking
    dtype = torch.bfloat16 if CUDA else torch.float16  # fp32 never autotunes (fixed 32x32 blocks)
    gen = torch.Generator().manual_seed(10 + i)
    q, k, v = (torch.randn(1, 1, 200, 128, generator=gen).to(DEVICE, dtype) for _ in range(3))
    doc_ids = torch.tensor([[5] * 3 + [6] * 60 + [5] + [6] * 70 + [5] * 66], device=DEVICE)
    label = " ".join(f"{c.kwargs['BLOCK_M']}x{c.kwargs['BLOCK_N']}" for _, c in forced)
    try:
        check(q, k, v, doc_ids, causal, label=f"fwd/dkdv/dq blocks {label} causal={causal}")
    except triton.runtime.errors.OutOfResources as e:  # the autotuner drops such a config on this GPU
        pytest.skip(f"blocks {label} do not fit this GPU: {e}")
    assert all(tuned.best_config is config for tuned, config in forced)  # the forced configs did run


@needs_triton
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


@needs_triton
def test_doc_ids_changed_in_place_are_seen():
    """The wrapper caches the per-doc_ids intervals; an in-place change of doc_ids must invalidate them."""
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 1, 30, 16, generator=gen).to(DEVICE) for _ in range(3))
    doc_ids = doc_ids_from_lengths([[30], [10, 20]], gen).to(DEVICE)
    check(q, k, v, doc_ids, True, label="doc_ids_before")
    doc_ids[0, 12:] = 777
    check(q, k, v, doc_ids, True, label="doc_ids_after")


@needs_triton
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
    dq_scale, dk_scale = grad_row_scales(q, k, v, do, doc_ids, causal, D ** -0.5)
    s = slice(128, None)
    for name, x, r, sc in (("out", out, ref, None), ("dq", dq, ref_dq, dq_scale), ("dk", dk, ref_dk, dk_scale),
                           ("dv", dv, ref_dv, None)):
        assert_within(name, torch.float32, *errors(x[:, :, s], r[:, :, s], None if sc is None else sc[:, :, s]))
    if causal:  # no docs: future keys poisoned, first half of the queries must not notice
        kf, vf = k.clone(), v.clone()
        kf[:, :, 128:], vf[:, :, 128:] = float("nan"), float("nan")
        out = kernels.attention(q, kf, vf, doc_ids=None, causal=True)
        ref = reference(q, k, v, None, True, D ** -0.5)
        assert_within("out", torch.float32, *errors(out[:, :, :128], ref[:, :, :128]))


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


@needs_triton
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
