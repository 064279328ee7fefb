"""interp/: every hook site against the same quantity computed by hand from the weights, patching and ablation as
hooks, hooks in KV-cache generation, and the TransformerLens export against our logits and an activation patching."""
import math

import pytest
import torch
import torch.nn.functional as F

from interp.export import TL_SITE, tl_name, to_transformer_lens
from interp.hooks import ablate, components, run_with_cache, sites
from model import GPT, GPTConfig, apply_rope


def make(**kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=41, block_size=32, n_layer=2, n_head=2, n_embd=16)
    m = GPT(GPTConfig(**{**cfg, **kw})).eval()
    with torch.no_grad():  # norms and biases away from their init, so that a forgotten one shows
        for name, p in m.named_parameters():
            if "ln" in name or "bias" in name:
                p.add_(torch.randn_like(p) * 0.3)
    return m


IDX = torch.tensor([[3, 7, 1, 9, 4, 2, 8, 5, 6, 0], [1, 1, 2, 3, 5, 8, 13, 21, 34, 40]])


def by_hand(m, idx):
    """Every site's activation, computed from the weights without the model's forward (single documents)."""
    c, out = m.config, {}
    B, T = idx.shape
    H, D = c.n_head, c.n_embd // c.n_head
    x = m.wte.weight[idx]
    out["embed",] = x
    rot = m.rope[:T][None, :, None]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(c.n_layer):
        b = m.blocks[0 if c.tied_layers else l]
        out["resid_pre", l] = x
        q, k, v = b.attn.c_attn(b.ln_1(x)).view(B, T, 3, H, D).unbind(2)
        q, k = apply_rope(q, rot), apply_rope(k, rot)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        out["q", l], out["k", l], out["v", l] = q, k, v
        att = (q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(~causal, float("-inf")).softmax(-1)
        out["pattern", l] = att
        z = att @ v
        for h in range(H):
            out["head", l, h] = z[:, h]
        out["attn_out", l] = b.attn.c_proj(z.transpose(1, 2).reshape(B, T, c.n_embd))
        x = x + out["attn_out", l]
        out["resid_mid", l] = x
        out["mlp_post", l] = F.gelu(b.mlp.c_fc(b.ln_2(x)))
        out["mlp_out", l] = b.mlp.c_proj(out["mlp_post", l])
        x = x + out["mlp_out", l]
    out["resid_pre", c.n_layer] = x
    return out, m.lm_head(m.ln_f(x))


@pytest.mark.parametrize("tied", [False, True])
def test_every_site_holds_what_it_is_named_after(tied):
    m = make(tied_layers=tied)
    logits, cache = run_with_cache(m, IDX, sites(m))
    want, want_logits = by_hand(m, IDX)
    assert set(cache) == set(sites(m)) == set(want)
    for site in sites(m):
        torch.testing.assert_close(cache[site], want[site], rtol=1e-5, atol=1e-6, msg=str(site))
    torch.testing.assert_close(logits, want_logits, rtol=1e-5, atol=1e-6)
    for l in range(m.config.n_layer):  # what a pattern is: causal rows of probabilities
        p = cache["pattern", l]
        assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1))) and p.triu(1).abs().max() == 0


def test_asking_for_nothing_changes_nothing_and_a_pattern_respects_documents():
    m = make()
    doc = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 2, 2, 2]] * 2)
    plain = m(IDX, doc_ids=doc)[0]
    logits, cache = run_with_cache(m, IDX, sites(m), doc_ids=doc)  # the explicit path for the patterns
    torch.testing.assert_close(logits, plain, rtol=1e-5, atol=1e-6)
    same = m(IDX, doc_ids=doc, patch={s: (lambda x: x) for s in sites(m) if s[0] != "pattern"})[0]
    assert torch.equal(same, plain)  # identity hooks on every site but the patterns: bit-exact
    p = cache["pattern", 0]
    assert p[..., 4:, :4].abs().max() == 0 and p[..., 7:, 4:7].abs().max() == 0  # no attention across documents
    with pytest.raises(ValueError, match="no site"):
        run_with_cache(m, IDX, [("mlp", 0)])


def test_ablation_switches_are_zero_hooks_and_a_hook_patches_a_run():
    m = make()
    zero_heads = make(ablate_heads=[[1, 0]])(IDX)[0]
    torch.testing.assert_close(m(IDX, patch=ablate([("head", 1, 0)]))[0], zero_heads, rtol=0, atol=0)
    zero_mlp = make(ablate_mlps=[0])(IDX)[0]
    torch.testing.assert_close(m(IDX, patch=ablate([("mlp_out", 0)]))[0], zero_mlp, rtol=0, atol=0)
    assert not torch.allclose(zero_heads, m(IDX)[0])
    # a switch and a hook on the same site compose: the hook sees the zeros (and a cache records them)
    seen = {}
    ablated = make(ablate_mlps=[0])
    out = ablated(IDX, patch={("mlp_out", 0): lambda x: seen.setdefault("x", x) + 1.0})[0]
    assert torch.count_nonzero(seen["x"]) == 0
    torch.testing.assert_close(out, m(IDX, patch={("mlp_out", 0): lambda x: torch.zeros_like(x) + 1.0})[0],
                               rtol=0, atol=0)
    assert torch.count_nonzero(run_with_cache(ablated, IDX, [("mlp_out", 0)])[1]["mlp_out", 0]) == 0
    assert components(m.config) == [("head", 0, 0), ("head", 0, 1), ("head", 1, 0), ("head", 1, 1), ("mlp_out", 0),
                                    ("mlp_out", 1)]
    # patching: the second row's stream at layer 1 put into the first row gives the second row's logits
    _, cache = run_with_cache(m, IDX, [("resid_pre", 1)])
    patched = m(IDX[:1], patch={("resid_pre", 1): lambda x: cache["resid_pre", 1][1:]})[0]
    torch.testing.assert_close(patched, m(IDX[1:])[0], rtol=1e-5, atol=1e-6)


def test_hooks_in_kv_cache_generation_equal_hooks_on_the_whole_sequence():
    m = make()
    shift = torch.randn(m.config.n_embd)
    hook = {("resid_mid", 0): lambda x: x + shift, ("pattern", 1): lambda p: p}  # a shift, and the explicit path
    new = m.generate([IDX[0, :4].tolist()], 6, temperature=0, patch=hook)[0]
    seq = IDX[0, :4].tolist()
    for _ in range(6):  # greedy without a cache, the hook on every position of the whole sequence
        seq.append(int(m(torch.tensor([seq]), patch=hook)[0][0, -1].argmax()))
    assert new == seq[4:]


@pytest.mark.parametrize("kw", [{}, dict(mlp="swiglu", norm="rmsnorm"), dict(bias=True), dict(pos_emb="learned"),
                                dict(tied_layers=True, tie_embeddings=False)])
@torch.no_grad()
def test_transformer_lens_export_gives_our_logits_and_our_patching(kw):
    m = make(**kw)
    tl = to_transformer_lens(m)
    ours = m(IDX)[0]
    torch.testing.assert_close(tl(IDX), ours, rtol=1e-5, atol=1e-5)  # fp32
    # the same sites hold the same activations
    _, cache = run_with_cache(m, IDX, sites(m))
    _, tl_cache = tl.run_with_cache(IDX)
    for site in sites(m):
        theirs = tl_cache[tl_name(site, m.config)]
        if site[0] in ("q", "k", "v"):
            theirs = theirs.transpose(1, 2)
        if site[0] == "head":
            theirs = theirs[:, :, site[2]]
        torch.testing.assert_close(cache[site], theirs, rtol=1e-4, atol=1e-5, msg=str(site))
    # one activation-patching result: the clean run's stream at (layer 1, position 5) put into the corrupt run,
    # scored as the logit difference between the clean and corrupt next tokens
    clean, corrupt = IDX[1:], IDX[:1]
    tc, tk = int(clean[0, 6]), int(corrupt[0, 6])
    _, c1 = run_with_cache(m, clean, [("resid_pre", 1)])

    def ours_patch(x):
        x = x.clone()
        x[:, 5] = c1["resid_pre", 1][:, 5]
        return x
    mine = m(corrupt, patch={("resid_pre", 1): ours_patch})[0][0, 5]
    _, c2 = tl.run_with_cache(clean)

    def tl_patch(x, hook):
        x = x.clone()
        x[:, 5] = c2["blocks.1.hook_resid_pre"][:, 5]
        return x
    theirs = tl.run_with_hooks(corrupt, fwd_hooks=[("blocks.1.hook_resid_pre", tl_patch)])[0, 5]
    assert abs(float(mine[tc] - mine[tk]) - float(theirs[tc] - theirs[tk])) < 1e-4
    assert not torch.allclose(mine, m(corrupt)[0][0, 5])  # the patch did something
    assert set(TL_SITE) == {s[0] for s in sites(m)}


@pytest.mark.parametrize("kw, needle", [(dict(qk_norm=True), "qk_norm"), (dict(mlp="relu2"), "relu2"),
                                        (dict(mlp="swiglu", bias=True), "swiglu"),
                                        (dict(pos_emb="none"), "pos_emb"), (dict(ablate_mlps=[0]), "ablate")])
def test_what_transformer_lens_cannot_express_is_refused_in_one_line(kw, needle):
    from pbb.common import UserError
    with pytest.raises(UserError, match=needle):
        to_transformer_lens(make(**kw))
