"""model.py against independent references: backends, document masking, KV-cache generation, ablations."""
import math

import pytest
import torch
import torch.nn as nn

from model import GPT, GPTConfig, apply_rope, doc_positions, rope_table
from pbb.checkpoint import load_checkpoint
from pbb.config import DEFAULTS, model_config

TINY = dict(vocab_size=61, block_size=48, n_layer=2, n_head=4, n_embd=32)


def make(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **kw})).eval()


def sharp(**kw):
    """make(**kw) in float64 with c_attn scaled 20x, so that attention is far from uniform (most queries
    put ~70% on one key): a wrong position, mask or padding then moves the logits far beyond 1e-6."""
    m = make(**kw).double()
    with torch.no_grad():
        for block in m.blocks:
            block.attn.c_attn.weight.mul_(20)
    return m


def random_docs(B, T, n_docs, g):
    """(B, T) doc ids: each row split at random into n_docs contiguous documents (ids not from 0)."""
    rows = []
    for _ in range(B):
        cuts = sorted(torch.randperm(T - 1, generator=g)[: n_docs - 1].add(1).tolist())
        ids = torch.zeros(T, dtype=torch.long)
        for c in cuts:
            ids[c:] += 1
        rows.append(ids + 7)
    return torch.stack(rows)


def logits_and_grads(model, idx, doc):
    """Logits and parameter gradients of one forward/backward of the LM loss on packed documents."""
    logits, loss = model(idx, targets=idx, doc_ids=doc)
    loss.backward()
    return logits, [p.grad for p in model.parameters()]


def test_doc_positions_restart():
    doc = torch.tensor([[3, 3, 3, 5, 5, 9, 9, 9, 9]])
    assert doc_positions(doc).tolist() == [[0, 1, 2, 0, 1, 0, 1, 2, 3]]


@pytest.mark.parametrize("base", [10000.0, 500.0])
def test_apply_rope_rotates_each_pair_by_position_times_frequency(base):
    D = 8  # head size of TINY
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 5, 3, D, generator=g, dtype=torch.float64)
    pos = torch.tensor([[0, 1, 2, 3, 4], [47, 9, 0, 30, 2]])
    got = apply_rope(x, rope_table(GPTConfig(**TINY, rope_base=base))[pos][:, :, None])
    # Reference in float64: pair i = (x[2i], x[2i+1]) turns by pos * base^(-2i/D).
    angle = pos[:, :, None, None].double() * base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    a, b = x[..., 0::2], x[..., 1::2]
    expected = torch.stack((a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()), dim=-1).flatten(-2)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)  # the table is float32


def test_rope_scores_depend_only_on_relative_position():
    rot = rope_table(GPTConfig(**TINY))
    q, k = torch.randn(2, 8, generator=torch.Generator().manual_seed(8), dtype=torch.float64)

    def score(m, n):  # q at position m against k at position n
        return (apply_rope(q, rot[m]) * apply_rope(k, rot[n])).sum().item()

    by_offset = []
    for d in range(0, 20, 3):
        scores = [score(m, m - d) for m in (d, d + 5, 47)]
        assert scores == pytest.approx([scores[0]] * 3, abs=1e-5)
        by_offset.append(scores[0])
    assert torch.tensor(by_offset).std() > 0.1  # and it does depend on the offset


@pytest.mark.parametrize("qk_norm", [False, True])
def test_rope_model_sees_relative_not_absolute_positions(qk_norm):
    m = sharp(qk_norm=qk_norm)
    idx = torch.randint(0, 61, (2, 12), generator=torch.Generator().manual_seed(9))
    pos = torch.arange(12).expand(2, 12)
    logits = m(idx, pos_ids=pos)[0]
    torch.testing.assert_close(m(idx, pos_ids=pos + 30)[0], logits, rtol=0, atol=1e-5)  # shifted: the same
    assert (m(idx, pos_ids=2 * pos)[0] - logits).abs().max() > 1e-2  # stretched: not the same


@pytest.mark.parametrize("pos_emb", ["learned", "rope", "none"])
def test_backends_agree_with_document_masking(pos_emb):
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, 61, (3, 40), generator=g)
    doc = random_docs(3, 40, 4, g)
    (l1, g1), (l2, g2) = (logits_and_grads(make(attn_backend=b, pos_emb=pos_emb).double(), idx, doc)
                          for b in ("naive", "sdpa"))
    torch.testing.assert_close(l1, l2, rtol=1e-9, atol=1e-9)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("backend", ["naive", "sdpa"])
@pytest.mark.parametrize("pos_emb", ["learned", "rope", "none"])
def test_packed_row_equals_documents_run_alone(backend, pos_emb):
    m = sharp(attn_backend=backend, pos_emb=pos_emb)
    g = torch.Generator().manual_seed(2)
    lengths = [5, 1, 17, 9]
    docs = [torch.randint(0, 61, (n,), generator=g) for n in lengths]
    idx = torch.cat(docs)[None]
    doc = torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)])[None]
    packed = m(idx, doc_ids=doc)[0][0]
    alone = torch.cat([m(d[None])[0][0] for d in docs])
    torch.testing.assert_close(packed, alone, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(norm="rmsnorm", mlp="swiglu", qk_norm=True, tie_embeddings=False, bias=True),
                                dict(mlp="relu2", pos_emb="learned")])
def test_switches_build_and_train_step(kw):
    m = make(**kw).train()
    idx = torch.randint(0, 61, (2, 16))
    _, loss = m(idx, targets=idx)
    loss.backward()
    assert torch.isfinite(loss)
    assert (m.lm_head.weight is m.wte.weight) == m.config.tie_embeddings


@pytest.mark.parametrize("norm, used, unused", [("layernorm", nn.LayerNorm, nn.RMSNorm),
                                                ("rmsnorm", nn.RMSNorm, nn.LayerNorm)])
def test_norm_switch_picks_every_norm(norm, used, unused):
    m = make(norm=norm)
    assert all(type(n) is used for n in [m.ln_f] + [n for b in m.blocks for n in (b.ln_1, b.ln_2)])
    assert not any(isinstance(mod, unused) for mod in m.modules())


@pytest.mark.parametrize("kind", ["gelu", "relu2", "swiglu"])
def test_mlp_switch_computes_its_activation(kind):
    mlp = make(mlp=kind, bias=True).double().blocks[0].mlp
    hidden = 32 * math.ceil(8 * 32 / 3 / 32) if kind == "swiglu" else 4 * 32
    assert (mlp.c_fc.out_features, mlp.c_proj.in_features) == (2 * hidden if kind == "swiglu" else hidden, hidden)
    g = torch.Generator().manual_seed(10)
    with torch.no_grad():
        for p in mlp.parameters():  # biases too, so that they count
            p.normal_(generator=g)
    x = torch.randn(2, 5, 32, dtype=torch.float64)
    h = x @ mlp.c_fc.weight.T + mlp.c_fc.bias
    if kind == "gelu":
        a = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
    elif kind == "relu2":
        a = h.clamp(min=0) ** 2
    else:
        gate, up = h[..., :hidden], h[..., hidden:]
        a = gate * torch.sigmoid(gate) * up
    torch.testing.assert_close(mlp(x), a @ mlp.c_proj.weight.T + mlp.c_proj.bias)


def test_qk_norm_normalizes_each_heads_queries_and_keys():
    m, plain = sharp(qk_norm=True), sharp()  # sharp: queries and keys large next to the norms' eps
    norms = {f"blocks.{i}.attn.{n}.weight" for i in range(2) for n in ("q_norm", "k_norm")}
    missing, unexpected = plain.load_state_dict(m.state_dict(), strict=False)  # the same other weights
    assert not missing and set(unexpected) == norms
    idx = torch.randint(0, 61, (2, 12), generator=torch.Generator().manual_seed(11))
    logits, plain_logits = m(idx)[0], plain(idx)[0]
    assert (logits - plain_logits).abs().max() > 1e-3
    with torch.no_grad():  # scale the query and key projections: normalized away, but not in the plain model
        for model in (m, plain):
            for block in model.blocks:
                block.attn.c_attn.weight[:64].mul_(7)
    torch.testing.assert_close(m(idx)[0], logits, rtol=0, atol=1e-5)  # up to the norms' eps
    assert (plain(idx)[0] - plain_logits).abs().max() > 1e-3


@pytest.mark.parametrize("bias", [False, True])
def test_bias_switch_adds_biases_to_linears_and_layernorms(bias):
    m = make(bias=bias)
    layers = [(n, mod) for n, mod in m.named_modules() if isinstance(mod, (nn.Linear, nn.LayerNorm))]
    assert len(layers) == 2 * 6 + 2  # per block: c_attn, c_proj, c_fc, c_proj, ln_1, ln_2; then ln_f, lm_head
    for name, mod in layers:
        assert (mod.bias is not None) == (bias and name != "lm_head"), name


def test_loss_weights_and_per_token_loss():
    m = make()
    idx = torch.randint(0, 61, (2, 12))
    w = torch.zeros(2, 12)
    w[0, 3:7] = 1.0
    w[1, 10] = 2.0
    _, per_token = m(idx, targets=idx, reduction="none")
    _, weighted = m(idx, targets=idx, loss_weights=w)
    expected = (per_token[0, 3:7].sum() + 2 * per_token[1, 10]) / 6
    torch.testing.assert_close(weighted, expected)
    assert per_token.shape == (2, 12)


def weight_patterns(B, T, g):
    """(name, (B, T) loss weights): zeros in various places, the values the corpora use (0.1, 1) and others."""
    sparse = torch.tensor([0.0, 0.0, 0.1, 1.0, 2.0])[torch.randint(0, 5, (B, T), generator=g)]
    zero_rows = torch.rand(B, T, generator=g) + 0.1
    zero_rows[[0, 2]] = 0.0
    ends = torch.zeros(B, T)
    ends[:, 0], ends[:, -1] = 1.0, 0.5
    one = torch.zeros(B, T)
    one[B - 1, T // 2] = 3.0
    return [("sparse", sparse), ("zero_rows", zero_rows), ("ends", ends), ("one", one), ("dense", torch.ones(B, T))]


@pytest.mark.parametrize("tie", [True, False])
def test_head_only_at_weighted_positions_equals_the_full_loss_and_gradients(tie):
    """In float64, the loss computed only where the weight is non-zero equals the full computation (head and
    cross-entropy at every position, weighted after), as do the gradients of every parameter; the head sees
    exactly the weighted rows."""
    B, T = 4, 40
    g = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 61, (B, T), generator=g)
    tgt = torch.randint(0, 61, (B, T), generator=g)
    doc = random_docs(B, T, 3, g)
    m = make(tie_embeddings=tie).double()
    rows = []
    m.lm_head.register_forward_hook(lambda mod, inp, out: rows.append(inp[0].shape[0]))
    for name, w in weight_patterns(B, T, g):
        w = w.double()
        m.zero_grad(set_to_none=True)
        logits, _ = m(idx, doc_ids=doc)
        ce = nn.functional.cross_entropy(logits.view(-1, 61), tgt.view(-1), reduction="none")
        full = (ce * w.view(-1)).sum() / w.sum()
        full.backward()
        full_grads = [p.grad.clone() for p in m.parameters()]
        m.zero_grad(set_to_none=True)
        logits, loss = m(idx, tgt, loss_weights=w, doc_ids=doc)
        loss.backward()
        assert logits is None and rows[-1] == int((w != 0).sum()), name
        assert loss.item() == pytest.approx(full.item(), rel=1e-12, abs=0), name
        for (n, p), grad in zip(m.named_parameters(), full_grads):
            torch.testing.assert_close(p.grad, grad, rtol=1e-10, atol=1e-14, msg=f"{name}: {n}")
        all_logits, all_loss = m(idx, tgt, loss_weights=w, doc_ids=doc, head_all=True)  # every position
        assert all_logits.shape == (B, T, 61), name
        assert all_loss.item() == pytest.approx(full.item(), rel=1e-12, abs=0), name


def test_all_zero_weights_give_zero_loss_and_zero_gradients():
    m = make().double()
    idx = torch.randint(0, 61, (2, 12))
    logits, loss = m(idx, idx, loss_weights=torch.zeros(2, 12, dtype=torch.float64))
    loss.backward()
    assert logits is None and loss.item() == 0.0
    assert all(p.grad is None or not p.grad.any() for p in m.parameters())


def plain_greedy(m, prompt, n, stop=None):
    seq = list(prompt)
    for _ in range(n):
        tok = m(torch.tensor([seq]))[0][0, -1].argmax().item()
        if tok == stop:
            break
        seq.append(tok)
    return seq[len(prompt):]


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_kv_cache_generation_equals_plain_greedy(pos_emb):
    m = make(pos_emb=pos_emb)
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 61, (n,), generator=g).tolist() for n in (3, 11, 1, 7)]
    expected = [plain_greedy(m, p, 12) for p in prompts]
    assert m.generate(prompts, 12, temperature=0) == expected
    # The same prompts as one padded tensor, padded on either side.
    L = max(len(p) for p in prompts)
    lens = torch.tensor([len(p) for p in prompts])
    right = torch.tensor([p + [0] * (L - len(p)) for p in prompts])
    left = torch.tensor([[0] * (L - len(p)) + p for p in prompts])
    assert m.generate(right, 12, temperature=0, prompt_lens=lens, padding_side="right") == expected
    assert m.generate(left, 12, temperature=0, prompt_lens=lens, padding_side="left") == expected


def generation_logits(m, prompts, n, **kw):
    """Greedy m.generate(prompts, n, **kw): the new tokens and the logits of each step, (B, n, V)."""
    seen = []

    def greedy(logits, temperature, top_k, generator):
        seen.append(logits)
        return logits.argmax(dim=-1)

    m._sample = greedy  # shadows the staticmethod for this instance only
    try:
        out = m.generate(prompts, n, temperature=0, **kw)
    finally:
        del m._sample
    return out, torch.stack(seen, dim=1)


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_kv_cache_logits_equal_a_full_forward_of_each_prompt_alone(pos_emb):
    m = sharp(pos_emb=pos_emb)
    g = torch.Generator().manual_seed(12)
    prompts = [torch.randint(0, 61, (n,), generator=g).tolist() for n in (3, 11, 1, 7)]
    lens, n = torch.tensor([len(p) for p in prompts]), 10
    pad = torch.randint(0, 61, (4, 11), generator=g)  # padding that is not all one token
    right = torch.stack([torch.cat([torch.tensor(p), pad[b, len(p):]]) for b, p in enumerate(prompts)])
    left = torch.stack([torch.cat([pad[b, len(p):], torch.tensor(p)]) for b, p in enumerate(prompts)])
    runs = [generation_logits(m, prompts, n),  # a list: left-padded inside generate
            generation_logits(m, right, n, prompt_lens=lens, padding_side="right"),
            generation_logits(m, left, n, prompt_lens=lens, padding_side="left")]
    for out, logits in runs:
        assert out == runs[0][0]
        for b, p in enumerate(prompts):
            # Causal, so one forward of prompt + new tokens gives the logits of a re-forward at every step.
            full = m(torch.tensor([p + out[b][:-1]]))[0][0, len(p) - 1:]
            torch.testing.assert_close(logits[b].double(), full, rtol=1e-5, atol=1e-6)


def test_generation_stops_at_stop_token():
    m = make()
    prompt = [5, 9, 2]
    free = plain_greedy(m, prompt, 10)
    stop = free[4]
    got = m.generate([prompt], 10, temperature=0, stop_token=stop)[0]
    assert got == free[: free.index(stop)]


def test_sampling_is_seeded_and_respects_top_k():
    m = make()
    a = m.generate([[1, 2, 3]] * 4, 8, temperature=1.0, top_k=1, generator=torch.Generator().manual_seed(0))
    assert a == m.generate([[1, 2, 3]] * 4, 8, temperature=0)  # top-1 sampling is greedy
    s1 = m.generate([[1, 2, 3]] * 4, 8, temperature=2.0, generator=torch.Generator().manual_seed(5))
    s2 = m.generate([[1, 2, 3]] * 4, 8, temperature=2.0, generator=torch.Generator().manual_seed(5))
    assert s1 == s2
    assert m.generate([[1, 2, 3]] * 4, 8, temperature=1e-6, generator=torch.Generator().manual_seed(5)) == a


def test_top_k_samples_only_from_the_k_highest_logits():
    logits = torch.tensor([[0.3, 2.0, -1.0, 1.5, 0.0, 1.8, -0.5, 1.0]])
    g = torch.Generator().manual_seed(13)
    for k, temperature in [(1, 1.0), (3, 1.0), (5, 1.0), (3, 4.0)]:
        draws = GPT._sample(logits.expand(4000, -1), temperature, k, g)
        assert set(draws.tolist()) == set(logits[0].topk(k).indices.tolist())


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_frequencies_follow_softmax_of_logits_over_temperature(temperature):
    logits = torch.tensor([[1.0, 0.0, -0.5, 0.7, -2.0]])
    n = 20000
    draws = GPT._sample(logits.expand(n, -1), temperature, None, torch.Generator().manual_seed(14))
    freq = torch.bincount(draws, minlength=5) / n
    torch.testing.assert_close(freq, (logits[0] / temperature).softmax(-1), rtol=0, atol=0.015)  # ~4 sigma


def test_very_low_temperature_is_greedy():
    logits = torch.tensor([[1.0, 0.0, -0.5, 0.7, -2.0], [0.1, 0.2, 0.3, 0.25, 0.0]])
    draws = GPT._sample(logits.repeat(500, 1), 1e-3, None, torch.Generator().manual_seed(15))
    assert draws.tolist() == [0, 2] * 500
    assert GPT._sample(logits, 0, None, None).tolist() == [0, 2]


def test_head_ablation_removes_exactly_that_heads_contribution():
    m = make().double()
    idx = torch.randint(0, 61, (2, 20))
    _, _, h = m(idx, return_hidden=True)
    layer, head = 1, 2
    # Reference: recompute layer 1's attention by hand and subtract head 2's share of c_proj.
    block = m.blocks[layer]
    x = h[layer]
    attn = block.attn
    cap = {}
    hook = attn.c_proj.register_forward_hook(lambda mod, inp, out: cap.update(y=inp[0]))  # returns None
    attn_out = attn(block.ln_1(x), m.rope[:20][None, :, None, None], None, None, {}, layer)
    hook.remove()
    d = 32 // 4
    head_share = cap["y"][..., head * d:(head + 1) * d] @ attn.c_proj.weight[:, head * d:(head + 1) * d].T
    x_mid = x + attn_out - head_share
    expected_next = x_mid + block.mlp(block.ln_2(x_mid))
    m.config.ablate_heads = [[layer, head]]
    _, _, h2 = m(idx, return_hidden=True)
    for i in range(layer + 1):
        torch.testing.assert_close(h2[i], h[i])  # earlier layers untouched
    torch.testing.assert_close(h2[layer + 1], expected_next)
    assert not torch.allclose(h2[layer + 1], h[layer + 1])


def test_mlp_ablation_skips_exactly_that_mlp():
    m = make().double()
    idx = torch.randint(0, 61, (2, 20))
    _, _, h = m(idx, return_hidden=True)
    m.config.ablate_mlps = [0]
    _, _, h2 = m(idx, return_hidden=True)
    block = m.blocks[0]
    expected = h[0] + block.attn(block.ln_1(h[0]), m.rope[:20][None, :, None, None], None, None, {}, 0)
    torch.testing.assert_close(h2[1], expected)
    assert len(h2) == m.config.n_layer + 1


def test_bad_switch_value_is_rejected():
    with pytest.raises(ValueError, match="attn_backend"):
        GPTConfig(attn_backend="flash")


def test_triton_backend_agrees_with_sdpa_on_packed_documents():
    pytest.importorskip("triton")
    device = "cuda" if torch.cuda.is_available() else "cpu"  # on CPU: the Triton interpreter (conftest.py)
    g = torch.Generator().manual_seed(4)
    idx = torch.randint(0, 61, (2, 37), generator=g).to(device)
    doc = random_docs(2, 37, 3, g).to(device)
    (l1, g1), (l2, g2) = (logits_and_grads(make(attn_backend=b).to(device), idx, doc) for b in ("sdpa", "triton"))
    torch.testing.assert_close(l2, l1, rtol=1e-4, atol=1e-5)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5)


def test_a_repeated_document_id_starts_a_new_document_in_every_backend():
    idx = torch.randint(0, 61, (1, 12))
    doc = torch.tensor([[4, 4, 4, 9, 9, 4, 4, 4, 4, 9, 9, 9]])  # id 4 comes back: a third document
    alone = torch.cat([make()(idx[:, a:b])[0][0] for a, b in [(0, 3), (3, 5), (5, 9), (9, 12)]])
    for backend in ["naive", "sdpa"]:
        torch.testing.assert_close(make(attn_backend=backend)(idx, doc_ids=doc)[0][0], alone, rtol=1e-5, atol=1e-5)


def test_bad_ablation_targets_are_rejected():
    with pytest.raises(ValueError, match="ablate_heads"):
        GPTConfig(**TINY, ablate_heads=[[0, 9]])
    with pytest.raises(ValueError, match="ablate_mlps"):
        GPTConfig(**TINY, ablate_mlps=[5])


def test_flex_backend_equals_naive_on_packed_documents_with_repeated_ids():
    """FlexAttention's block mask (built once per batch in GPT.forward) is the same mask: causal within runs of
    equal ids, a second run of an id a new document. Forward only: FlexAttention has no CPU backward."""
    torch.manual_seed(0)
    naive = GPT(GPTConfig(vocab_size=50, block_size=64, n_layer=2, n_head=2, n_embd=32, attn_backend="naive")).double()
    flex = GPT(GPTConfig(vocab_size=50, block_size=64, n_layer=2, n_head=2, n_embd=32, attn_backend="flex")).double()
    flex.load_state_dict(naive.state_dict())
    with torch.no_grad():
        for m in (naive, flex):  # sharp attention, so that a wrong mask shows
            for blk in m.blocks:
                blk.attn.c_attn.weight.mul_(20)
        idx = torch.randint(0, 50, (2, 37))
        doc = torch.tensor([[4] * 10 + [7] * 12 + [4] * 15, [1] * 37])
        for d in (doc, None):
            torch.testing.assert_close(flex(idx, doc_ids=d)[0], naive(idx, doc_ids=d)[0], rtol=0, atol=1e-10)
        prompts = [[1, 2, 3], [4, 5, 6, 7, 8]]
        assert flex.generate(prompts, 5, temperature=0) == naive.generate(prompts, 5, temperature=0)


def test_tied_layers_has_one_blocks_parameters():
    tied, untied = make(tied_layers=True, n_layer=3), make(n_layer=3)
    block = sum(p.numel() for p in untied.blocks[0].parameters())
    assert len(tied.blocks) == 1
    assert tied.num_params() == untied.num_params() - 2 * block
    assert tied.flops_per_token(16) == untied.flops_per_token(16)  # the block still runs 3 times


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_tied_layers_equal_an_untied_model_whose_blocks_are_copies(pos_emb):
    """Outputs, every hidden state and every hook site: the tied block at depth l acts as layer l."""
    tied = sharp(tied_layers=True, n_layer=3, pos_emb=pos_emb)
    untied = sharp(n_layer=3, pos_emb=pos_emb)
    shared = {k[len("blocks.0."):]: v for k, v in tied.state_dict().items() if k.startswith("blocks.0.")}
    untied.load_state_dict({**{k: v for k, v in tied.state_dict().items() if not k.startswith("blocks.")},
                            **{f"blocks.{i}.{k}": v for i in range(3) for k, v in shared.items()}})
    g = torch.Generator().manual_seed(21)
    idx, doc = torch.randint(0, 61, (2, 30), generator=g), random_docs(2, 30, 3, g)
    la, _, ha = tied(idx, doc_ids=doc, return_hidden=True)
    lb, _, hb = untied(idx, doc_ids=doc, return_hidden=True)
    torch.testing.assert_close(la, lb, rtol=0, atol=1e-12)
    assert len(ha) == 4 and all(torch.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(ha, hb))
    assert not torch.allclose(ha[1], ha[2])  # depth matters: the block is applied again, not once
    # hooks and ablations address one application of the shared block by its layer index
    seen = {}
    patch = {("head", 2, 1): lambda y: y * 0, ("mlp_out", 1): lambda y: seen.setdefault("mlp1", y) * 0.5}
    ta, tb = tied(idx, doc_ids=doc, patch=dict(patch))[0], untied(idx, doc_ids=doc, patch=dict(patch))[0]
    torch.testing.assert_close(ta, tb, rtol=0, atol=1e-12)
    assert not torch.allclose(ta, la)
    for m in (tied, untied):
        m.config.ablate_heads, m.config.ablate_mlps = [[1, 3]], [0]
    torch.testing.assert_close(tied(idx, doc_ids=doc)[0], untied(idx, doc_ids=doc)[0], rtol=0, atol=1e-12)


def test_tied_layers_kv_cache_generation_equals_plain_greedy():
    m = sharp(tied_layers=True, n_layer=3)
    g = torch.Generator().manual_seed(5)
    prompts = [torch.randint(0, 61, (n,), generator=g).tolist() for n in (4, 9, 1)]
    out, logits = generation_logits(m, prompts, 8)
    assert out == [plain_greedy(m, p, 8) for p in prompts]
    for b, p in enumerate(prompts):  # the cache holds one slot per application of the shared block
        full = m(torch.tensor([p + out[b][:-1]]))[0][0, len(p) - 1:]
        torch.testing.assert_close(logits[b].double(), full, rtol=1e-5, atol=1e-6)


def test_tied_layers_gradients_flow_to_the_shared_block():
    m = make(tied_layers=True, n_layer=3).train()
    idx = torch.randint(0, 61, (2, 16))
    _, loss = m(idx, targets=idx)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    # the shared block's gradient is the sum of its three applications' (untied copies, summed)
    untied = make(n_layer=3).train()
    untied.load_state_dict({**{k: v for k, v in m.state_dict().items() if not k.startswith("blocks.")},
                            **{f"blocks.{i}.{k[len('blocks.0.'):]}": v for i in range(3)
                               for k, v in m.state_dict().items() if k.startswith("blocks.0.")}})
    untied(idx, targets=idx)[1].backward()
    for name, p in m.blocks[0].named_parameters():
        total = sum(dict(untied.blocks[i].named_parameters())[name].grad for i in range(3))
        torch.testing.assert_close(p.grad, total, rtol=1e-4, atol=1e-6)


def test_a_checkpoint_from_before_tied_layers_loads_untied(tmp_path):
    m = make()
    config = {k: v for k, v in {**DEFAULTS, **TINY}.items() if k != "tied_layers"}
    torch.save({"model": m.state_dict(), "config": config, "step": 1}, tmp_path / "ckpt.pt")
    ckpt = load_checkpoint(str(tmp_path / "ckpt.pt"))
    assert ckpt["config"]["tied_layers"] is False
    again = GPT(model_config(ckpt["config"]))
    again.load_state_dict(ckpt["model"])  # strict: the same two blocks
