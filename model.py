"""A small GPT in one file. Every ablation switch is one field of GPTConfig; grep its name.

Packed sequences: a batch row may hold several documents, given by `doc_ids` (B, T). A token attends
only to earlier tokens of its own document, in every attention backend, and positions restart at 0
at each document, so a row of packed documents behaves exactly like the documents run one by one.

Hooks (interpretability; the toolkit is interp/hooks.py): GPT.forward(..., patch={site: fn}) replaces the
activation at each named site by fn(activation) (return it unchanged to read it; another run's values to patch it;
zeros or a mean to ablate it). Sites, for B rows of T tokens, C = n_embd, H heads of D = C / H, layer l:
    ("embed",)          the token embedding (before a learned position embedding is added), (B, T, C)
    ("resid_pre", l)    the residual stream entering block l, l = 0..n_layer (n_layer: after the last block, before
                        ln_f), (B, T, C); the tensors return_hidden returns
    ("q", l) ("k", l) ("v", l)   queries and keys (after qk_norm and RoPE) and values, (B, H, T, D)
    ("pattern", l)      the attention probabilities, (B, H, T, T_keys); asking for it runs layer l's attention as an
                        explicit softmax (the reference path) instead of attn_backend
    ("head", l, h)      head h's output before the output projection, (B, T, D)
    ("attn_out", l)     what attention l adds to the residual stream, (B, T, C)
    ("resid_mid", l)    the residual stream after attention l, before MLP l, (B, T, C)
    ("mlp_post", l)     MLP l's hidden activation after its nonlinearity (swiglu: gate * up), (B, T, hidden)
    ("mlp_out", l)      what MLP l adds to the residual stream, (B, T, C)
ablate_heads and ablate_mlps are zero hooks on ("head", l, h) and ("mlp_out", l); a hook given for the same site is
applied to the zeros. With tied_layers (one Block, GPT.blocks[0], applied n_layer times) every site, ablation and
KV-cache slot keeps its layer index l: the l-th application of the shared block. In generation, hooks see the new
tokens of each step (keys and values: the new ones, before the cache stores them).
"""
import math
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 512
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0  # on embeddings and residual branches (not on attention probabilities)
    bias: bool = False  # biases in Linear layers and LayerNorm
    attn_backend: str = "sdpa"  # 'triton' (kernels/) | 'sdpa' (torch) | 'flex' (FlexAttention) | 'naive' (softmax)
    pos_emb: str = "rope"  # 'learned' | 'rope' | 'none'
    norm: str = "layernorm"  # 'layernorm' | 'rmsnorm'
    mlp: str = "gelu"  # 'gelu' | 'relu2' | 'swiglu'
    qk_norm: bool = False  # RMSNorm on each head's queries and keys
    tie_embeddings: bool = True  # lm_head shares the token embedding matrix
    rope_base: float = 10000.0
    ablate_heads: list = field(default_factory=list)  # [[layer, head], ...] whose outputs are zeroed
    ablate_mlps: list = field(default_factory=list)  # [layer, ...] whose MLP outputs are zeroed
    tied_layers: bool = False  # one Block applied n_layer times (weights shared across depth; Wang et al. 2024)

    def __post_init__(self):
        choices = {"attn_backend": ("triton", "sdpa", "flex", "naive"), "pos_emb": ("learned", "rope", "none"),
                   "norm": ("layernorm", "rmsnorm"), "mlp": ("gelu", "relu2", "swiglu")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")
        for pair in self.ablate_heads:
            if len(pair) != 2 or not 0 <= pair[0] < self.n_layer or not 0 <= pair[1] < self.n_head:
                raise ValueError(f"ablate_heads entry {pair!r} is not a [layer, head] of this model")
        if any(not 0 <= l < self.n_layer for l in self.ablate_mlps):
            raise ValueError(f"ablate_mlps={self.ablate_mlps!r} names a layer this model does not have")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"n_embd={self.n_embd} must split into n_head={self.n_head} heads of even size")


def make_norm(config, dim):
    if config.norm == "rmsnorm":
        return nn.RMSNorm(dim, eps=1e-5)
    return nn.LayerNorm(dim, bias=config.bias)


def doc_starts(doc_ids):
    """True where a document starts. A document is a maximal run of equal ids (as in kernels/)."""
    starts = torch.ones_like(doc_ids, dtype=torch.bool)
    starts[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    return starts


def doc_positions(doc_ids):
    """Position of each token inside its document: 0 at every document start. (B, T) -> (B, T)."""
    t = torch.arange(doc_ids.size(1), device=doc_ids.device).expand_as(doc_ids)
    return t - torch.cummax(torch.where(doc_starts(doc_ids), t, 0), dim=1).values


def doc_causal_mask(doc_ids):
    """(B, 1, T, T) boolean: query i may attend key j iff j <= i and both are in the same document."""
    T = doc_ids.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()
    run = doc_starts(doc_ids).cumsum(dim=1)  # two runs of one id are two documents
    return (run[:, None, :, None] == run[:, None, None, :]) & causal


def rope_table(config):
    """Rotary embedding angles as unit complex numbers, (block_size, head_dim / 2)."""
    d = config.n_embd // config.n_head
    inv_freq = 1.0 / (config.rope_base ** (torch.arange(0, d, 2).float() / d))
    angles = torch.outer(torch.arange(config.block_size).float(), inv_freq)
    return torch.polar(torch.ones(config.block_size, d // 2), angles)


def apply_rope(x, rot):
    """Rotates each pair (x[2i], x[2i+1]) of the last dim by its angle: one complex multiply.
    x: (B, T, ..., D); rot: complex, broadcastable to (B, T, ..., D / 2)."""
    xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
    pairs = torch.view_as_complex(xf.reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * rot).flatten(-2).type_as(x)


def doc_block_mask(doc_ids, T, device):
    """FlexAttention's block mask for causal attention within documents (runs of equal ids, as everywhere
    here); doc_ids None: plain causal. Built once per batch; every layer reuses it."""
    from torch.nn.attention.flex_attention import create_block_mask
    if doc_ids is None:
        return create_block_mask(lambda b, h, q, k: q >= k, None, None, T, T, device=device)
    run = doc_starts(doc_ids).cumsum(dim=1)
    return create_block_mask(lambda b, h, q, k: (run[b, q] == run[b, k]) & (q >= k), doc_ids.size(0), None, T, T,
                             device=device)


_compiled_flex = None


def flex(q, k, v, block_mask):
    """FlexAttention with a block mask from doc_block_mask; compiled on CUDA (once), eager elsewhere (the
    CPU has its forward only: no backward)."""
    global _compiled_flex
    from torch.nn.attention.flex_attention import flex_attention
    if not q.is_cuda:
        with warnings.catch_warnings():  # eager FlexAttention warns that it is the slow, debuggable path
            warnings.filterwarnings("ignore", message=".*flex_attention.*", category=UserWarning)
            return flex_attention(q, k, v, block_mask=block_mask)
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention)
    return _compiled_flex(q, k, v, block_mask=block_mask)


def attend_explicit(q, k, v, mask, hook):
    """Causal attention as an explicit softmax, its probabilities (B, H, Tq, Tk) passed through hook on the way: the
    reference path the ("pattern", l) site runs on. mask: (B, 1, Tq, Tk) boolean, or None for plain causal."""
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))
    if mask is None:
        mask = torch.ones(q.size(2), k.size(2), dtype=torch.bool, device=q.device).tril(k.size(2) - q.size(2))
    return hook(att.masked_fill(~mask, float("-inf")).softmax(dim=-1)) @ v


def attend(q, k, v, doc_ids, backend, mask=None):
    """Causal attention of (B, H, T, D) tensors, block-diagonal by document when doc_ids is given (for
    backend 'flex', doc_ids is the BlockMask GPT.forward built from them). An explicit boolean `mask`
    (B, 1, Tq, Tk) is used instead when given (the KV-cache path)."""
    if backend == "flex" and mask is None:
        return flex(q, k, v, doc_ids)
    if backend == "triton" and mask is None:
        from kernels import attention
        return attention(q, k, v, doc_ids=doc_ids)
    if mask is None and doc_ids is not None:
        mask = doc_causal_mask(doc_ids)
    if backend == "naive":
        return attend_explicit(q, k, v, mask, lambda att: att)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)


class KVCache:
    """Keys and values of every layer for generation, plus each key's document id for the mask."""

    def __init__(self, config, batch_size, max_len, device, dtype):
        shape = (config.n_layer, batch_size, config.n_head, max_len, config.n_embd // config.n_head)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.doc_ids = torch.zeros(batch_size, max_len, dtype=torch.long, device=device)
        self.n = 0  # filled positions
        self.mask = None  # (B, 1, t, n + t) for the tokens being added, set by GPT.forward

    def start(self, doc_ids):
        t, n = doc_ids.size(1), self.n
        if n + t > self.k.size(3):
            raise ValueError(f"KV cache holds {self.k.size(3)} positions, {n + t} requested")
        self.doc_ids[:, n:n + t] = doc_ids
        keys = self.doc_ids[:, :n + t]
        causal = torch.arange(n + t, device=keys.device)[None, :] <= torch.arange(n, n + t, device=keys.device)[:, None]
        self.mask = (doc_ids[:, None, :, None] == keys[:, None, None, :]) & causal

    def update(self, layer, k, v):
        n, t = self.n, k.size(2)
        self.k[layer, :, :, n:n + t] = k
        self.v[layer, :, :, n:n + t] = v
        return self.k[layer, :, :, :n + t], self.v[layer, :, :, :n + t]


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config, self.n_head = config, config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # fused q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        if config.qk_norm:
            self.q_norm = nn.RMSNorm(config.n_embd // config.n_head, eps=1e-5)
            self.k_norm = nn.RMSNorm(config.n_embd // config.n_head, eps=1e-5)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, rope, doc_ids, cache, patch, layer, mask=None):
        B, T, C = x.shape
        hook = lambda name, t: patch[name, layer](t) if (name, layer) in patch else t  # sites: module docstring
        qkv = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.unbind(2)  # (B, T, H, D) each
        if self.config.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:  # q and k rotated together, in the layout the projection wrote
            q, k = apply_rope(torch.stack((q, k), dim=2) if self.config.qk_norm else qkv[:, :, :2], rope).unbind(2)
        q, k, v = (hook(n, t.transpose(1, 2)) for n, t in (("q", q), ("k", k), ("v", v)))  # (B, H, T, D)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        if ("pattern", layer) in patch:  # the reference path, whatever attn_backend (mask: GPT.forward)
            y = attend_explicit(q, k, v, mask, patch["pattern", layer])
        elif cache is not None:
            y = attend(q, k, v, None, self.config.attn_backend, mask=cache.mask)
        else:
            y = attend(q, k, v, doc_ids, self.config.attn_backend)
        hooked = [h for h in range(self.n_head) if ("head", layer, h) in patch]
        if hooked:
            y = y.clone()
            for h in hooked:
                y[:, h] = patch["head", layer, h](y[:, h])
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(hook("attn_out", self.c_proj(y)))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.kind = config.mlp
        hidden = 4 * config.n_embd
        if self.kind == "swiglu":  # same parameter count as a 4x MLP, rounded up to a multiple of 32
            hidden = 32 * math.ceil(8 * config.n_embd / 3 / 32)
        self.c_fc = nn.Linear(config.n_embd, 2 * hidden if self.kind == "swiglu" else hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, hook=lambda name, t: t):
        h = self.c_fc(x)
        if self.kind == "gelu":
            h = F.gelu(h)
        elif self.kind == "relu2":
            h = F.relu(h).square()
        else:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        return self.dropout(hook("mlp_out", self.c_proj(hook("mlp_post", h))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.ln_1, self.ln_2 = make_norm(config, config.n_embd), make_norm(config, config.n_embd)
        self.attn = Attention(config)
        self.mlp = MLP(config)

    def forward(self, x, rope, doc_ids, cache, patch, layer, mask=None):
        hook = lambda name, t: patch[name, layer](t) if (name, layer) in patch else t  # sites: module docstring
        x = hook("resid_mid", x + self.attn(self.ln_1(x), rope, doc_ids, cache, patch, layer, mask))
        return x + self.mlp(self.ln_2(x), hook)


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        if config.pos_emb == "learned":
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
        if config.pos_emb == "rope":
            self.register_buffer("rope", rope_table(config), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        # tied_layers: a single Block (blocks.0.*), run at every layer index 0..n_layer-1 (see forward)
        self.blocks = nn.ModuleList(Block(config) for _ in range(1 if config.tied_layers else config.n_layer))
        self.ln_f = make_norm(config, config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len):
        """Training FLOPs per token (forward + backward): 6 per weight plus causal attention."""
        c = self.config
        n = self.num_params() - (self.wpe.weight.numel() if c.pos_emb == "learned" else 0)
        if c.tied_layers:  # the one block's weights are used n_layer times
            n += (c.n_layer - 1) * sum(p.numel() for p in self.blocks[0].parameters())
        return 6 * n + 6 * c.n_layer * c.n_embd * seq_len  # causal: half of 12 * L * C * T

    def forward(self, idx, targets=None, loss_weights=None, doc_ids=None, pos_ids=None,
                reduction="mean", return_hidden=False, cache=None, patch=None, head_all=False):
        """idx, targets, loss_weights, doc_ids, pos_ids: (B, T). Returns (logits, loss), plus the
        residual stream before each block and after the last ([n_layer + 1] x (B, T, C)) when
        return_hidden. loss is the loss_weights-weighted mean cross-entropy, or per-token (B, T)
        unweighted cross-entropy with reduction='none'. With loss_weights (and reduction 'mean') logits
        is None: the head runs only at the positions of non-zero weight, unless head_all (every position,
        no data-dependent indexing: on CUDA that selection is a host sync). pos_ids default to positions
        within each document (or 0..T-1 without doc_ids). patch: {site: fn}, hooks that replace
        activations (module docstring)."""
        B, T = idx.shape
        if cache is not None:
            if doc_ids is None or pos_ids is None:
                raise ValueError("generation with a cache needs doc_ids and pos_ids")
            cache.start(doc_ids)
        if pos_ids is None and doc_ids is not None:
            pos_ids = doc_positions(doc_ids)
        if self.config.pos_emb != "none" and pos_ids is None and T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size={self.config.block_size}")
        patch = dict(patch or {})
        for site in [*(("head", l, h) for l, h in self.config.ablate_heads),  # the ablation switches, zero hooks;
                     *(("mlp_out", l) for l in self.config.ablate_mlps)]:     # a hook on the same site sees the zeros
            patch[site] = (lambda f: lambda x: f(torch.zeros_like(x)))(patch.get(site, lambda x: x))
        x = self.wte(idx)
        x = patch["embed",](x) if ("embed",) in patch else x
        rope = None
        if self.config.pos_emb == "learned":
            x = x + (self.wpe(pos_ids) if pos_ids is not None else self.wpe.weight[:T])
        elif self.config.pos_emb == "rope":
            rot = self.rope[:T][None] if pos_ids is None else self.rope[pos_ids]  # (B or 1, T, D/2)
            rope = rot[:, :, None, None]  # broadcast over (q or k, head)
        x = self.drop(x)
        mask = None  # the explicit mask of the ("pattern", l) sites' reference path
        if any(s[0] == "pattern" for s in patch):
            mask = cache.mask if cache is not None else doc_causal_mask(doc_ids) if doc_ids is not None else None
        if self.config.attn_backend == "flex" and cache is None:  # one block mask for every layer
            doc_ids = doc_block_mask(doc_ids, T, idx.device)
        hidden, L = [], self.config.n_layer
        for i in range(L):  # tied_layers: blocks[0] at every i (its own hooks, cache slot)
            x = patch["resid_pre", i](x) if ("resid_pre", i) in patch else x
            hidden.append(x)
            x = self.blocks[0 if self.config.tied_layers else i](x, rope, doc_ids, cache, patch, i, mask)
        x = patch["resid_pre", L](x) if ("resid_pre", L) in patch else x
        hidden.append(x)
        if cache is not None:
            cache.n += T
        x = self.ln_f(x)
        weighted = targets is not None and loss_weights is not None and reduction == "mean" and not head_all
        if weighted:  # the head and the cross-entropy run only at the positions that count
            keep = loss_weights != 0
            x, targets, loss_weights = x[keep], targets[keep], loss_weights[keep]
        logits = self.lm_head(x)
        loss = None
        if targets is not None:  # cross-entropy in fp32 at least (fp64 stays fp64)
            ce = F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)).view(-1, logits.size(-1)),
                                 targets.reshape(-1), reduction="none").view(targets.shape)
            if reduction == "none":
                loss = ce
            elif loss_weights is None:
                loss = ce.mean()
            else:
                loss = (ce * loss_weights).sum() / loss_weights.sum().clamp(min=1e-8)
        logits = None if weighted else logits
        return (logits, loss, hidden) if return_hidden else (logits, loss)

    @torch.no_grad()
    def generate(self, prompts, max_new_tokens, temperature=1.0, top_k=None, stop_token=None,
                 prompt_lens=None, padding_side="right", generator=None, patch=None):
        """Batched sampling with a KV cache. prompts: a list of token lists (any lengths), or a (B, T)
        tensor whose rows are padded on `padding_side` to lengths `prompt_lens`. temperature=0 is
        greedy. Returns one list of new tokens per prompt, ending before `stop_token`. patch: forward's
        hooks, applied at every step (to the tokens of that step only: use values that broadcast over T)."""
        if torch.is_tensor(prompts):
            rows = prompts.tolist()
            if prompt_lens is not None:
                lens = [int(n) for n in prompt_lens]
                rows = [r[:n] if padding_side == "right" else r[len(r) - n:] for r, n in zip(rows, lens)]
            prompts = rows
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        device = self.wte.weight.device
        B, L = len(prompts), max(len(p) for p in prompts)
        if self.config.pos_emb != "none" and L + max_new_tokens - 1 > self.config.block_size:
            raise ValueError(f"prompt ({L}) + new tokens ({max_new_tokens}) exceed block_size={self.config.block_size}")
        # Left-pad into one batch. Padding is its own document (-1), so no real token attends to it.
        idx = torch.zeros(B, L, dtype=torch.long, device=device)
        doc_ids = torch.full((B, L), -1, dtype=torch.long, device=device)
        lens = torch.tensor([len(p) for p in prompts], device=device)
        for b, p in enumerate(prompts):
            idx[b, L - len(p):] = torch.tensor(p, dtype=torch.long, device=device)
            doc_ids[b, L - len(p):] = 0
        pos_ids = (torch.arange(L, device=device)[None, :] - (L - lens)[:, None]).clamp(min=0)
        cache = KVCache(self.config, B, L + max_new_tokens, device, self.wte.weight.dtype)
        logits = self(idx, doc_ids=doc_ids, pos_ids=pos_ids, cache=cache, patch=patch)[0][:, -1]
        out, done = [[] for _ in range(B)], torch.zeros(B, dtype=torch.bool, device=device)
        for step in range(max_new_tokens):
            next_tok = self._sample(logits.float(), temperature, top_k, generator)
            for b in (~done).nonzero().flatten().tolist():
                if stop_token is not None and next_tok[b].item() == stop_token:
                    done[b] = True
                else:
                    out[b].append(next_tok[b].item())
            if done.all() or step == max_new_tokens - 1:
                break
            logits = self(next_tok[:, None], doc_ids=torch.zeros(B, 1, dtype=torch.long, device=device),
                          pos_ids=(lens + step)[:, None], cache=cache, patch=patch)[0][:, -1]
        return out

    @staticmethod
    def _sample(logits, temperature, top_k, generator):
        if temperature == 0:
            return logits.argmax(dim=-1)
        logits = logits / temperature
        if top_k is not None:
            kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(1)
