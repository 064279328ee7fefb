"""Custom GPU kernels.  `attention` is our Triton flash attention (see flash_attention.py).

Importing this package never imports triton, so it works on machines without triton or a GPU;
the kernels are loaded on the first call.
"""
import os


def attention(q, k, v, doc_ids=None, causal=True, scale=None):
    """Flash attention with causal / document masking; q, k, v: (B, H, T, D) -> (B, H, T, D).

    See kernels.flash_attention.attention for the full contract.  Needs a CUDA GPU, or
    TRITON_INTERPRET=1 (set before triton is first imported) to run on CPU.
    """
    if not q.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("attn_backend='triton' needs a CUDA GPU or TRITON_INTERPRET=1 "
                           f"(got a tensor on {q.device} without TRITON_INTERPRET=1)")
    try:
        from .flash_attention import attention as _attention
    except ImportError as e:
        raise RuntimeError(f"attn_backend='triton' needs the triton package: {e}") from e
    return _attention(q, k, v, doc_ids=doc_ids, causal=causal, scale=scale)


__all__ = ["attention"]
