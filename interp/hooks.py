"""Hooks for interpretability: read, replace or ablate what a model computes at named sites (model.py's `patch`
argument, {site: fn}; the sites are listed there and by sites()), on one forward pass or while generating. Stateless
and layer-indexed, so they work for tied layers too. Used by experiments/mechanism.py; every site is tested against
a computation by hand in tests/test_interp.py.

    logits, cache = run_with_cache(model, idx, [("resid_pre", 2), ("pattern", 1)])
    logits = model(idx, patch=ablate([("head", 0, 1), ("mlp_out", 3)]))[0]          # zero-ablation
    logits = model(corrupt, patch={("resid_pre", 2): lambda x: cache["resid_pre", 2]})[0]   # activation patching
"""
import torch
import torch.nn.functional as F


def sites(model):
    """Every hook site of a model (or its GPTConfig), in the order the forward pass reaches them."""
    c = getattr(model, "config", model)
    per_layer = lambda l: [("resid_pre", l), ("q", l), ("k", l), ("v", l), ("pattern", l),
                           *[("head", l, h) for h in range(c.n_head)], ("attn_out", l), ("resid_mid", l),
                           ("mlp_post", l), ("mlp_out", l)]
    return [("embed",), *[s for l in range(c.n_layer) for s in per_layer(l)], ("resid_pre", c.n_layer)]


def components(config):
    """What a knockout replaces: every head ("head", l, h) and every MLP's output ("mlp_out", l)."""
    return ([("head", l, h) for l in range(config.n_layer) for h in range(config.n_head)]
            + [("mlp_out", l) for l in range(config.n_layer)])


@torch.no_grad()
def run_with_cache(model, idx, names=None, **kw):
    """(logits, {site: activation}) of one forward pass whose hooks keep a copy of each named site and change nothing;
    names default to every site but the attention patterns (asking for one runs that layer's attention by explicit
    softmax). kw: more arguments of model.forward (doc_ids, pos_ids, patch: other hooks, applied first at a site)."""
    every = sites(model)
    names = [s for s in every if s[0] != "pattern"] if names is None else list(names)
    unknown = [s for s in names if s not in every]
    if unknown:
        raise ValueError(f"no site {unknown[0]!r} in this model; interp.hooks.sites(model) lists them")
    cache, other = {}, kw.pop("patch", None) or {}

    def keep(site):
        def fn(x):
            x = other[site](x) if site in other else x
            cache[site] = x.clone()
            return x
        return fn
    logits = model(idx, patch={**other, **{s: keep(s) for s in names}}, **kw)[0]
    return logits, cache


def ablate(names, means=None):
    """Hooks that replace each named site by zero, or by means[site] (broadcast over the batch) when given."""
    if means is None:
        return {s: torch.zeros_like for s in names}
    return {s: (lambda v: lambda x: v.expand_as(x))(means[s]) for s in names}


def pad(seqs, device):
    """(B, T) tokens right-padded with 0, and the (B, T) mask of real ones. Attention is causal, so padding on the
    right changes no real token's logits: no doc_ids needed."""
    idx = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
    mask = torch.zeros_like(idx, dtype=torch.bool)
    for i, s in enumerate(seqs):
        idx[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), True
    return idx.to(device), mask.to(device)


@torch.no_grad()
def means(model, seqs, names, per_position=False, batch_size=64):
    """{site: mean activation}: over every real token of seqs (a vector), or with per_position over the sequences at
    each position ((T, ...); seqs of one length). What mean-ablation puts in a component's place."""
    if per_position and len(set(map(len, seqs))) > 1:
        raise ValueError("per-position means need sequences of one length")
    if any(s[0] in ("q", "k", "v", "pattern") for s in names):
        raise ValueError("means() averages (B, T, ...) activations; q, k, v and pattern are (B, H, T, ...)")
    sums, count = {}, 0
    for i in range(0, len(seqs), batch_size):
        idx, mask = pad(seqs[i:i + batch_size], model.wte.weight.device)
        for s, a in run_with_cache(model, idx, names)[1].items():
            sums[s] = sums.get(s, 0) + (a.sum(0) if per_position else a[mask].sum(0))
        count += len(idx) if per_position else int(mask.sum())
    return {s: v / count for s, v in sums.items()}


def knockout(component, ablation, mean_of, n_head):
    """Hooks that knock a component out: ("head", l, h), ("mlp", l) (its output) or ("attn", l) (every head of layer l,
    i.e. its whole attention output), replaced by zero or by its mean (mean_of: {site: mean} from means())."""
    kind, layer = component[0], component[1]
    parts = ([("head", layer, h) for h in range(n_head)] if kind == "attn" else
             [("mlp_out", layer)] if kind == "mlp" else [tuple(component)])
    return ablate(parts, None if ablation == "zero" else mean_of)


@torch.no_grad()
def logprobs(model, seqs, starts, patch=None, batch_size=64):
    """Teacher forcing: the summed log-probability of each seqs[i][starts[i]:] given what precedes it. patch: hooks
    that broadcast over the batch."""
    out = []
    for i in range(0, len(seqs), batch_size):
        idx, _ = pad(seqs[i:i + batch_size], model.wte.weight.device)
        logp = model(idx, patch=patch)[0].float().log_softmax(-1)
        for j, (seq, a) in enumerate(zip(seqs[i:i + batch_size], starts[i:i + batch_size])):
            out.append(float(logp[j, a - 1:len(seq) - 1].gather(-1, idx[j, a:len(seq), None]).sum()))
    return out


@torch.no_grad()
def patch_grid(model, clean, corrupt, score):
    """Activation patching of one pair: (n_layer + 1, T) scores of the corrupt run (tokens (1, T)) with the clean
    run's residual stream put in at one (layer, position) each: site ("resid_pre", l), the stream entering block l
    (n_layer: after the last). score(logits (B, T, V)) -> (B,). One batched forward pass, a row per (layer,
    position)."""
    L, T = model.config.n_layer, clean.size(1)
    hidden = model(clean, return_hidden=True)[2]
    layer, pos = torch.arange((L + 1) * T).div(T, rounding_mode="floor"), torch.arange((L + 1) * T) % T
    patch = {}
    for l in range(L + 1):
        mask = torch.zeros((L + 1) * T, T, 1, dtype=torch.bool, device=clean.device)
        mask[(layer == l).nonzero().flatten(), pos[layer == l]] = True
        patch["resid_pre", l] = (lambda m, h: lambda x: torch.where(m, h, x))(mask, hidden[l])
    return score(model(corrupt.expand((L + 1) * T, T), patch=patch)[0]).view(L + 1, T)


class Probe:
    """A linear probe: ridge regression of one-hot labels on standardised features (closed form, float64), the
    predicted label the argmax."""

    def __init__(self, l2=0.01):
        self.l2 = l2  # the penalty, per training example

    def fit(self, X, y):
        X = X.double()
        self.classes = sorted(set(y))
        Y = F.one_hot(torch.tensor([self.classes.index(v) for v in y]), len(self.classes)).double()
        self.mu, self.sd, self.b = X.mean(0), X.std(0) + 1e-6, Y.mean(0)
        Z = (X - self.mu) / self.sd
        eye = torch.eye(Z.size(1), dtype=Z.dtype)
        self.W = torch.linalg.solve(Z.T @ Z + self.l2 * len(Z) * eye, Z.T @ (Y - self.b))
        return self

    def predict(self, X):
        return [self.classes[i] for i in (((X.double() - self.mu) / self.sd) @ self.W + self.b).argmax(1).tolist()]


class Patched:
    """A model whose generate() runs with hooks: what pbb.evaluate.generate_texts needs (.config and .generate)."""

    def __init__(self, model, patch):
        self.model, self.patch, self.config = model, patch, model.config

    def generate(self, *args, **kw):
        return self.model.generate(*args, patch=self.patch, **kw)
