"""Flash attention in Triton: forward and backward, causal and/or document (block-diagonal) masking.

Read it like Triton's fused-attention tutorial.  One idea carries all the masking: every query row i
sees exactly one contiguous interval of keys [row_lo[i], row_hi[i]), and every key column j is seen by
one contiguous interval of queries [col_lo[j], col_hi[j]).  For packed documents with causal masking
row_lo[i] = start of i's document and row_hi[i] = i + 1.  The wrapper computes these four (B, T) int32
vectors in PyTorch (once per doc_ids tensor); the kernels never see `causal` or `doc_ids`.

Tiling: a program owns one BLOCK of rows (queries in the forward and in dQ, keys in dK/dV) of one
(batch, head) and loops over tiles of the other axis.  From the row intervals of its block it derives
    [start, full_lo)  tiles that some row sees partly   -> computed with the element mask
    [full_lo, full_hi) tiles that every row sees fully   -> computed without any mask
    [full_hi, end)    tiles that some row sees partly   -> computed with the element mask
and tiles outside [start, end) -- above the diagonal or in another document -- are never touched.

Layout: q, k, v, do are (B, H, T, D) with any strides over B, H, T; the last dim must have stride 1
(the wrapper copies a tensor whose last stride is not 1).  Outputs are allocated contiguous.
"""
import math
import os

import torch
import triton
import triton.language as tl

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
_poison_buffers = False  # tests set this: outputs start as NaN so unwritten elements show up


# ----------------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------------
@triton.jit
def _load_rows(ptr, offs_t, stride_t, T, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr):
    """Load a (len(offs_t), BLOCK_D) tile; rows past T and columns past HEAD_DIM read as 0."""
    offs_d = tl.arange(0, BLOCK_D)
    ptrs = ptr + offs_t[:, None] * stride_t + offs_d[None, :]
    mask = (offs_t < T)[:, None]  # constant along D: keeps the loads vectorized
    if HEAD_DIM != BLOCK_D:
        mask = mask & (offs_d < HEAD_DIM)[None, :]
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def _store_rows(ptr, x, offs_t, stride_t, T, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr):
    offs_d = tl.arange(0, BLOCK_D)
    ptrs = ptr + offs_t[:, None] * stride_t + offs_d[None, :]
    tl.store(ptrs, x.to(ptr.dtype.element_ty), mask=(offs_t < T)[:, None] & (offs_d < HEAD_DIM)[None, :])


@triton.jit
def _tile_range(LO, HI, offs, T, BLOCK: tl.constexpr):
    """Rows `offs` see the intervals [LO[i], HI[i]) of the other axis.  Returns those intervals and
    start <= full_lo <= full_hi <= end, the tile boundaries described in the module docstring."""
    ok = offs < T
    lo = tl.load(LO + offs, mask=ok, other=T)  # rows past T see nothing
    hi = tl.load(HI + offs, mask=ok, other=0)
    start = tl.min(lo, 0) // BLOCK * BLOCK  # first tile anyone sees (tiles are BLOCK-aligned)
    end = tl.max(hi, 0)  # one past the last column anyone sees
    full_lo = (tl.max(tl.where(ok, lo, 0), 0) + BLOCK - 1) // BLOCK * BLOCK  # every row sees all of
    full_hi = tl.min(tl.where(ok, hi, T), 0) // BLOCK * BLOCK  # [full_lo, full_hi)
    full_lo = tl.minimum(tl.maximum(full_lo, start), end)
    full_hi = tl.minimum(tl.maximum(full_hi, full_lo), end)
    return lo, hi, start, full_lo, full_hi, end


# ----------------------------------------------------------------------------------------------------
# Forward
# ----------------------------------------------------------------------------------------------------
@triton.jit
def _fwd_tiles(acc, l_i, m_i, q, K, V, stride_kt, stride_vt, lo, hi, first, last, T, qk_scale,
               HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
               MASKED: tl.constexpr, DOT_PREC: tl.constexpr):
    """Online softmax over key tiles [first, last): scores in log2 units, fp32 statistics."""
    for start_n in range(first, last, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load_rows(K, offs_n, stride_kt, T, HEAD_DIM, BLOCK_D)
        qk = tl.dot(q, tl.trans(k), input_precision=DOT_PREC)
        if MASKED:
            visible = (offs_n[None, :] >= lo[:, None]) & (offs_n[None, :] < hi[:, None])
            qk = tl.where(visible, qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)  # running max (finite: starts at -1e30)
        p = tl.exp2(qk * qk_scale - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)  # rescales what was accumulated under the old max
        l_i = l_i * alpha + tl.sum(p, 1)
        v = _load_rows(V, offs_n, stride_vt, T, HEAD_DIM, BLOCK_D)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=DOT_PREC)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit(do_not_specialize=["T", "H"])
def _attn_fwd(Q, K, V, O, LSE, ROW_LO, ROW_HI, T, H, qk_scale,
              stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_kt,
              stride_vb, stride_vh, stride_vt, stride_ob, stride_oh, stride_ot,
              HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
              DOT_PREC: tl.constexpr):
    pid_m, bh = tl.program_id(0), tl.program_id(1)
    b, h = (bh // H).to(tl.int64), (bh % H).to(tl.int64)
    Q += b * stride_qb + h * stride_qh
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh
    O += b * stride_ob + h * stride_oh
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)

    lo, hi, start, full_lo, full_hi, end = _tile_range(ROW_LO + b * T, ROW_HI + b * T, offs_m, T, BLOCK_N)
    q = _load_rows(Q, offs_m, stride_qt, T, HEAD_DIM, BLOCK_D)
    m_i = tl.full([BLOCK_M], -1.0e30, tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    acc, l_i, m_i = _fwd_tiles(acc, l_i, m_i, q, K, V, stride_kt, stride_vt, lo, hi, start, full_lo, T, qk_scale,
                               HEAD_DIM, BLOCK_D, BLOCK_N, True, DOT_PREC)
    acc, l_i, m_i = _fwd_tiles(acc, l_i, m_i, q, K, V, stride_kt, stride_vt, lo, hi, full_lo, full_hi, T, qk_scale,
                               HEAD_DIM, BLOCK_D, BLOCK_N, False, DOT_PREC)
    acc, l_i, m_i = _fwd_tiles(acc, l_i, m_i, q, K, V, stride_kt, stride_vt, lo, hi, full_hi, end, T, qk_scale,
                               HEAD_DIM, BLOCK_D, BLOCK_N, True, DOT_PREC)

    l_i = tl.where(offs_m < T, l_i, 1.0)  # rows past T saw nothing; keep them finite (never stored)
    _store_rows(O, acc / l_i[:, None], offs_m, stride_ot, T, HEAD_DIM, BLOCK_D)
    tl.store(LSE + bh * T + offs_m, m_i + tl.log2(l_i), mask=offs_m < T)  # log2-sum-exp2 of the row


# ----------------------------------------------------------------------------------------------------
# Backward: delta = rowsum(dO * O), then dK/dV (one program per key block), then dQ (per query block)
# ----------------------------------------------------------------------------------------------------
@triton.jit(do_not_specialize=["T", "H"])
def _attn_bwd_preprocess(O, DO, DELTA, T, H, stride_ob, stride_oh, stride_ot, stride_dob, stride_doh, stride_dot,
                         HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr):
    pid_m, bh = tl.program_id(0), tl.program_id(1)
    b, h = (bh // H).to(tl.int64), (bh % H).to(tl.int64)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    o = _load_rows(O + b * stride_ob + h * stride_oh, offs_m, stride_ot, T, HEAD_DIM, BLOCK_D)
    do = _load_rows(DO + b * stride_dob + h * stride_doh, offs_m, stride_dot, T, HEAD_DIM, BLOCK_D)
    tl.store(DELTA + bh * T + offs_m, tl.sum(o.to(tl.float32) * do.to(tl.float32), 1), mask=offs_m < T)


@triton.jit
def _dkdv_tiles(dk, dv, k, v, Q, DO, LSE, DELTA, stride_qt, stride_dot, lo, hi, first, last, T, qk_scale,
                HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr,
                MASKED: tl.constexpr, DOT_PREC: tl.constexpr):
    """Accumulate dK, dV of one key block over query tiles [first, last), in transposed form (keys x queries)."""
    for start_m in range(first, last, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        q = _load_rows(Q, offs_m, stride_qt, T, HEAD_DIM, BLOCK_D)
        do = _load_rows(DO, offs_m, stride_dot, T, HEAD_DIM, BLOCK_D)
        lse = tl.load(LSE + offs_m, mask=offs_m < T, other=0.0)
        delta = tl.load(DELTA + offs_m, mask=offs_m < T, other=0.0)
        pT = tl.exp2(tl.dot(k, tl.trans(q), input_precision=DOT_PREC) * qk_scale - lse[None, :])
        if MASKED:  # here lo/hi are per key: the queries that see it
            pT = tl.where((offs_m[None, :] >= lo[:, None]) & (offs_m[None, :] < hi[:, None]), pT, 0.0)
        dv = tl.dot(pT.to(do.dtype), do, dv, input_precision=DOT_PREC)
        dpT = tl.dot(v, tl.trans(do), input_precision=DOT_PREC)
        dsT = pT * (dpT - delta[None, :])
        dk = tl.dot(dsT.to(q.dtype), q, dk, input_precision=DOT_PREC)
    return dk, dv


@triton.jit(do_not_specialize=["T", "H"])
def _attn_bwd_dkdv(Q, K, V, DO, DK, DV, LSE, DELTA, COL_LO, COL_HI, T, H, qk_scale, sm_scale,
                   stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_kt,
                   stride_vb, stride_vh, stride_vt, stride_dob, stride_doh, stride_dot,
                   stride_gb, stride_gh, stride_gt,  # dK and dV share one contiguous layout
                   HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                   DOT_PREC: tl.constexpr):
    pid_n, bh = tl.program_id(0), tl.program_id(1)
    b, h = (bh // H).to(tl.int64), (bh % H).to(tl.int64)
    Q += b * stride_qb + h * stride_qh
    DO += b * stride_dob + h * stride_doh
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)

    lo, hi, start, full_lo, full_hi, end = _tile_range(COL_LO + b * T, COL_HI + b * T, offs_n, T, BLOCK_M)
    k = _load_rows(K + b * stride_kb + h * stride_kh, offs_n, stride_kt, T, HEAD_DIM, BLOCK_D)
    v = _load_rows(V + b * stride_vb + h * stride_vh, offs_n, stride_vt, T, HEAD_DIM, BLOCK_D)
    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    LSE += bh * T
    DELTA += bh * T
    dk, dv = _dkdv_tiles(dk, dv, k, v, Q, DO, LSE, DELTA, stride_qt, stride_dot, lo, hi, start, full_lo, T, qk_scale,
                         HEAD_DIM, BLOCK_D, BLOCK_M, True, DOT_PREC)
    dk, dv = _dkdv_tiles(dk, dv, k, v, Q, DO, LSE, DELTA, stride_qt, stride_dot, lo, hi, full_lo, full_hi, T,
                         qk_scale, HEAD_DIM, BLOCK_D, BLOCK_M, False, DOT_PREC)
    dk, dv = _dkdv_tiles(dk, dv, k, v, Q, DO, LSE, DELTA, stride_qt, stride_dot, lo, hi, full_hi, end, T, qk_scale,
                         HEAD_DIM, BLOCK_D, BLOCK_M, True, DOT_PREC)
    gofs = b * stride_gb + h * stride_gh
    _store_rows(DK + gofs, dk * sm_scale, offs_n, stride_gt, T, HEAD_DIM, BLOCK_D)
    _store_rows(DV + gofs, dv, offs_n, stride_gt, T, HEAD_DIM, BLOCK_D)


@triton.jit
def _dq_tiles(dq, q, do, lse, delta, K, V, stride_kt, stride_vt, lo, hi, first, last, T, qk_scale,
              HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
              MASKED: tl.constexpr, DOT_PREC: tl.constexpr):
    """Accumulate dQ of one query block over key tiles [first, last)."""
    for start_n in range(first, last, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load_rows(K, offs_n, stride_kt, T, HEAD_DIM, BLOCK_D)
        v = _load_rows(V, offs_n, stride_vt, T, HEAD_DIM, BLOCK_D)
        p = tl.exp2(tl.dot(q, tl.trans(k), input_precision=DOT_PREC) * qk_scale - lse[:, None])
        if MASKED:
            p = tl.where((offs_n[None, :] >= lo[:, None]) & (offs_n[None, :] < hi[:, None]), p, 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=DOT_PREC)
        ds = p * (dp - delta[:, None])
        dq = tl.dot(ds.to(k.dtype), k, dq, input_precision=DOT_PREC)
    return dq


@triton.jit(do_not_specialize=["T", "H"])
def _attn_bwd_dq(Q, K, V, DO, DQ, LSE, DELTA, ROW_LO, ROW_HI, T, H, qk_scale, sm_scale,
                 stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_kt,
                 stride_vb, stride_vh, stride_vt, stride_dob, stride_doh, stride_dot,
                 stride_gb, stride_gh, stride_gt,
                 HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                 DOT_PREC: tl.constexpr):
    pid_m, bh = tl.program_id(0), tl.program_id(1)
    b, h = (bh // H).to(tl.int64), (bh % H).to(tl.int64)
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)

    lo, hi, start, full_lo, full_hi, end = _tile_range(ROW_LO + b * T, ROW_HI + b * T, offs_m, T, BLOCK_N)
    q = _load_rows(Q + b * stride_qb + h * stride_qh, offs_m, stride_qt, T, HEAD_DIM, BLOCK_D)
    do = _load_rows(DO + b * stride_dob + h * stride_doh, offs_m, stride_dot, T, HEAD_DIM, BLOCK_D)
    lse = tl.load(LSE + bh * T + offs_m, mask=offs_m < T, other=0.0)
    delta = tl.load(DELTA + bh * T + offs_m, mask=offs_m < T, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    dq = _dq_tiles(dq, q, do, lse, delta, K, V, stride_kt, stride_vt, lo, hi, start, full_lo, T, qk_scale,
                   HEAD_DIM, BLOCK_D, BLOCK_N, True, DOT_PREC)
    dq = _dq_tiles(dq, q, do, lse, delta, K, V, stride_kt, stride_vt, lo, hi, full_lo, full_hi, T, qk_scale,
                   HEAD_DIM, BLOCK_D, BLOCK_N, False, DOT_PREC)
    dq = _dq_tiles(dq, q, do, lse, delta, K, V, stride_kt, stride_vt, lo, hi, full_hi, end, T, qk_scale,
                   HEAD_DIM, BLOCK_D, BLOCK_N, True, DOT_PREC)
    _store_rows(DQ + b * stride_gb + h * stride_gh, dq * sm_scale, offs_m, stride_gt, T, HEAD_DIM, BLOCK_D)


# ----------------------------------------------------------------------------------------------------
# Launch configuration: autotuned on GPU, fixed small blocks under the interpreter (or KERNELS_AUTOTUNE=0)
# ----------------------------------------------------------------------------------------------------
def _configs(pairs):
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s) for m, n, w, s in pairs]


_FWD_CONFIGS = _configs([(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (64, 64, 4, 3)])
_DKDV_CONFIGS = _configs([(32, 128, 4, 4), (64, 128, 8, 3), (64, 64, 4, 3), (32, 64, 4, 3)])
_DQ_CONFIGS = _configs([(128, 32, 4, 4), (128, 64, 8, 3), (64, 64, 4, 3), (64, 32, 4, 3)])
_KEY = ["T", "HEAD_DIM"]
_attn_fwd_tuned = triton.autotune(_FWD_CONFIGS, key=_KEY)(_attn_fwd)
_attn_bwd_dkdv_tuned = triton.autotune(_DKDV_CONFIGS, key=_KEY)(_attn_bwd_dkdv)
_attn_bwd_dq_tuned = triton.autotune(_DQ_CONFIGS, key=_KEY)(_attn_bwd_dq)


def _launch(kernel, tuned, n_rows, BH, *args, **constexprs):
    """Run `tuned` (autotuned) on GPU.  Fixed blocks instead: 16x16 under the interpreter, 32x32 for fp32
    (IEEE fp32 dots are CUDA-core FMAs: big blocks only compile slowly), 64x64 with KERNELS_AUTOTUNE=0."""
    fp32 = constexprs["DOT_PREC"] == "ieee"
    if INTERPRET or fp32 or os.environ.get("KERNELS_AUTOTUNE", "1") == "0":
        blk = 16 if INTERPRET else 32 if fp32 else 64
        kernel[(triton.cdiv(n_rows, blk), BH)](*args, **constexprs, BLOCK_M=blk, BLOCK_N=blk, num_warps=4)
    else:
        def grid(meta):
            return (triton.cdiv(n_rows, meta["BLOCK_N" if kernel is _attn_bwd_dkdv else "BLOCK_M"]), BH)
        tuned[grid](*args, **constexprs)


# ----------------------------------------------------------------------------------------------------
# PyTorch side: visibility intervals, buffers, autograd
# ----------------------------------------------------------------------------------------------------
def visible_intervals(doc_ids, B, T, causal, device):
    """(row_lo, row_hi, col_lo, col_hi), each (B, T) int32: query i sees keys [row_lo[i], row_hi[i]),
    key j is seen by queries [col_lo[j], col_hi[j]).  A document is a maximal run of equal doc_ids."""
    pos = torch.arange(T, device=device, dtype=torch.int32).expand(B, T)
    if doc_ids is None:
        start, end = torch.zeros_like(pos), torch.full_like(pos, T)
    else:
        change = doc_ids[:, 1:] != doc_ids[:, :-1]  # position t+1 starts a document
        start = torch.where(change, pos[:, 1:], 0).cummax(dim=1).values  # start of t+1's document
        start = torch.cat([torch.zeros_like(pos[:, :1]), start], 1)
        end = torch.where(change, pos[:, 1:], T).flip(1).cummin(dim=1).values.flip(1)  # end of t's document
        end = torch.cat([end, torch.full_like(pos[:, :1], T)], 1)
    intervals = (start, pos + 1, pos, end) if causal else (start, end, start, end)
    return [x.contiguous() for x in intervals]  # the kernels index them as dense (B, T)


_interval_cache = {}  # (id, version, ...) -> (doc_ids, intervals): each layer of a model reuses one doc_ids


def _cached_intervals(doc_ids, B, T, causal, device):
    """visible_intervals, computed once per doc_ids tensor (a new tensor or an in-place change recomputes)."""
    try:
        key = (id(doc_ids), -1 if doc_ids is None else doc_ids._version, B, T, causal, str(device))
    except RuntimeError:  # inference tensors have no version counter: no caching
        return visible_intervals(doc_ids, B, T, causal, device)
    hit = _interval_cache.get(key)
    if hit is not None and hit[0] is doc_ids:  # the cache holds doc_ids, so its id cannot be reused
        return hit[1]
    if len(_interval_cache) >= 8:
        _interval_cache.clear()
    intervals = visible_intervals(doc_ids, B, T, causal, device)
    _interval_cache[key] = (doc_ids, intervals)
    return intervals


def _new(shape, like, dtype=None):
    dtype = dtype or like.dtype
    if _poison_buffers:
        return torch.full(shape, float("nan"), dtype=dtype, device=like.device)
    return torch.empty(shape, dtype=dtype, device=like.device)


def _lastdim_contiguous(x):
    return x if x.stride(-1) == 1 else x.contiguous()


def _strides(x):
    return x.stride(0), x.stride(1), x.stride(2)


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, doc_ids, causal, scale):
        q, k, v = (_lastdim_contiguous(x) for x in (q, k, v))
        B, H, T, D = q.shape
        if doc_ids is not None and doc_ids.device != q.device:
            doc_ids = doc_ids.to(q.device)
        row_lo, row_hi, col_lo, col_hi = _cached_intervals(doc_ids, B, T, causal, q.device)
        o = _new((B, H, T, D), q)
        lse = _new((B, H, T), q, torch.float32)
        consts = dict(HEAD_DIM=D, BLOCK_D=max(16, triton.next_power_of_2(D)),
                      DOT_PREC="ieee" if q.dtype == torch.float32 else "tf32")
        _launch(_attn_fwd, _attn_fwd_tuned, T, B * H, q, k, v, o, lse, row_lo, row_hi, T, H, scale * math.log2(math.e),
                *_strides(q), *_strides(k), *_strides(v), *_strides(o), **consts)
        ctx.save_for_backward(q, k, v, o, lse, row_lo, row_hi, col_lo, col_hi)
        ctx.scale, ctx.consts = scale, consts
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse, row_lo, row_hi, col_lo, col_hi = ctx.saved_tensors
        do = _lastdim_contiguous(do)
        B, H, T, D = q.shape
        consts, qk_scale = ctx.consts, ctx.scale * math.log2(math.e)
        delta = _new((B, H, T), q, torch.float32)
        _attn_bwd_preprocess[(triton.cdiv(T, 64), B * H)](o, do, delta, T, H, *_strides(o), *_strides(do),
                                                          HEAD_DIM=D, BLOCK_D=consts["BLOCK_D"], BLOCK_M=64)
        dq, dk, dv = _new((B, H, T, D), q), _new((B, H, T, D), q), _new((B, H, T, D), q)
        common = (*_strides(q), *_strides(k), *_strides(v), *_strides(do), *_strides(dk))
        _launch(_attn_bwd_dkdv, _attn_bwd_dkdv_tuned, T, B * H, q, k, v, do, dk, dv, lse, delta, col_lo, col_hi,
                T, H, qk_scale, ctx.scale, *common, **consts)
        _launch(_attn_bwd_dq, _attn_bwd_dq_tuned, T, B * H, q, k, v, do, dq, lse, delta, row_lo, row_hi,
                T, H, qk_scale, ctx.scale, *common, **consts)
        return dq, dk, dv, None, None, None


def attention(q, k, v, doc_ids=None, causal=True, scale=None):
    """Scaled dot-product attention with causal and/or document masking; q, k, v: (B, H, T, D).

    doc_ids: optional (B, T) integer tensor.  Documents are maximal runs of equal ids (packed sequences);
    ids are arbitrary (padding may carry its own id); two runs of the same id count as two documents.
    A query attends to the keys of its own document, and with causal=True only to those at or before it.
    causal=False with doc_ids gives block-diagonal, non-causal attention.  scale defaults to 1/sqrt(D).
    Supports any T; any D <= 128 (tested: 16, 32, 48, 64 against float64, 64 and 128 against SDPA);
    fp16 / bf16, and fp32 with IEEE fp32 dots and fixed 32x32 blocks (exact, not fast); bf16 is not
    available under the interpreter.  Any strides over B, H, T; the last dim is copied to stride 1 if
    it is not.  The per-document intervals are cached per doc_ids tensor (in-place changes are seen).
    """
    if q.dim() != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share one (B, H, T, D) shape, got {q.shape}, {k.shape}, {v.shape}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    B, H, T, D = q.shape
    if D > 128:
        raise ValueError(f"head dim {D} > 128 is not supported")
    if doc_ids is not None and tuple(doc_ids.shape) != (B, T):
        raise ValueError(f"doc_ids must be (B, T) = {(B, T)}, got {tuple(doc_ids.shape)}")
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    return _FlashAttention.apply(q, k, v, doc_ids, causal, scale)
