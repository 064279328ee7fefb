"""experiments/mechanism.py: its tools on tiny models (bit-exact where they must be), and the study end to end on the
micro preset."""
import json
import re

import pytest
import torch
import torch.nn.functional as F

from data.format import open_corpus
from data.tokenizer import load as load_tokenizer
from experiments import mechanism as M
from interp.hooks import Probe, components, knockout, logprobs, means, patch_grid, run_with_cache
from model import GPT, GPTConfig
from pbb.checkpoint import load_checkpoint
from pbb.config import DEFAULTS
from pbb.training import apply_trainable, make_optimizer

TINY = dict(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32)
REQUIRED = {"curriculum", "domain", "split", "mode", "metric", "value", "ci_low", "ci_high", "n", "seed", "part"}


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **kw})).double().eval()
    for p in model.parameters():  # larger weights than GPT-2's init, so that every component matters
        p.data.normal_(0, 0.3, generator=torch.Generator().manual_seed(seed + p.numel()))
    return model


def every_site(config):
    return [("resid_pre", l) for l in range(config.n_layer + 1)] + components(config)


def record(model, idx, names):
    return run_with_cache(model, idx, names)[1]


def test_patching_a_run_with_its_own_activations_changes_nothing():
    m = tiny()
    idx = torch.randint(0, 64, (3, 12), generator=torch.Generator().manual_seed(1))
    clean = m(idx, return_hidden=True)
    acts = record(m, idx, every_site(m.config))
    assert set(acts) == set(every_site(m.config))
    # the hooks see what return_hidden returns
    assert all(torch.equal(acts["resid_pre", l], clean[2][l]) for l in range(m.config.n_layer + 1))
    patched = m(idx, patch={s: (lambda v: lambda x: v)(a) for s, a in acts.items()}, return_hidden=True)
    assert torch.equal(patched[0], clean[0]) and all(torch.equal(a, b) for a, b in zip(patched[2], clean[2]))
    seqs = [idx[0, :7].tolist(), idx[1].tolist()]  # teacher forcing: padded batches score as each run alone
    lp = [-F.cross_entropy(m(torch.tensor([s]))[0][0, 2:-1], torch.tensor(s[3:]), reduction="sum") for s in seqs]
    assert torch.allclose(torch.tensor(logprobs(m, seqs, [3, 3])), torch.stack(lp).float(), atol=1e-5)
    score = lambda logits: logits[:, -1, 5] - logits[:, -1, 7]
    grid = patch_grid(m, idx[:1], idx[:1], score)  # every (layer, position) patched with the run's own state
    assert grid.shape == (m.config.n_layer + 1, 12)
    assert torch.equal(grid, score(m(idx[:1].expand(grid.numel(), -1))[0]).view_as(grid))


def test_patching_every_position_with_another_runs_states_reproduces_its_logits():
    m = tiny()
    a = torch.randint(0, 64, (1, 12), generator=torch.Generator().manual_seed(2))
    b = a.clone()
    b[0, 4] = (a[0, 4] + 1) % 64  # b differs from a at position 4 only
    hb, lb, la = m(b, return_hidden=True)[2], m(b)[0], m(a)[0]
    assert not torch.allclose(la[:, 4:], lb[:, 4:])
    for l in range(m.config.n_layer + 1):  # every position of one layer (n_layer: the last stream, before ln_f)
        assert torch.equal(m(a, patch={("resid_pre", l): lambda x, v=hb[l]: v})[0], lb)
    score = lambda logits: logits[:, -1, 5] - logits[:, -1, 7]
    grid = patch_grid(m, b, a, score)  # clean b patched into corrupt a, one (layer, position) at a time
    L = m.config.n_layer
    assert torch.allclose(grid[L, -1], score(lb), atol=1e-10)  # the last state decides the last logits
    assert torch.allclose(grid[0, 4], score(lb), atol=1e-10)  # the only differing embedding: the run becomes b
    others = [p for p in range(12) if p != 4]
    assert torch.allclose(grid[0, others], score(la).expand(len(others)), atol=1e-10)  # the same token: no-ops
    assert torch.allclose(grid[1:, :4], score(la).expand(L, 4), atol=1e-10)  # before position 4 nothing differs


def test_mean_ablation_with_the_mean_of_one_input_is_that_input():
    m = tiny()
    idx = torch.randint(0, 64, (1, 12), generator=torch.Generator().manual_seed(3))
    names = components(m.config)
    mean = means(m, idx.tolist(), names, per_position=True)
    acts = record(m, idx, names)
    assert all(torch.equal(mean[s], acts[s][0]) for s in names)
    clean = m(idx)[0]
    for comp in [("attn", 0), ("mlp", 1), ("head", 1, 0)]:
        assert torch.equal(m(idx, patch=knockout(comp, "mean", mean, 2))[0], clean)
        assert not torch.allclose(m(idx, patch=knockout(comp, "zero", mean, 2))[0], clean)
    seqs = [[1, 2, 3], [4, 5, 6, 7, 8]]  # the pooled mean: over every real token, padding left out
    pooled = means(m, seqs, [("mlp_out", 0)])[("mlp_out", 0)]  # one batch: the shorter row is padded
    one = [record(m, torch.tensor([s]), [("mlp_out", 0)])[("mlp_out", 0)][0] for s in seqs]
    assert torch.allclose(pooled, torch.cat(one).mean(0))
    m.config.ablate_heads, m.config.ablate_mlps = [[1, 0]], [0]  # the hooks' zero knockout is the config's ablation
    ablated, generated = m(idx)[0], m.generate(idx.tolist(), 6, temperature=0)
    m.config.ablate_heads, m.config.ablate_mlps = [], []
    patch = {**knockout(("head", 1, 0), "zero", {}, 2), **knockout(("mlp", 0), "zero", {}, 2)}
    assert torch.equal(m(idx, patch=patch)[0], ablated)
    assert m.generate(idx.tolist(), 6, temperature=0, patch=patch) == generated  # through the KV cache too
    assert m.generate(idx.tolist(), 6, temperature=0) != generated


def test_probe_recovers_a_planted_feature_and_is_at_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    n, d, k = 600, 64, 4
    y = torch.randint(0, k, (2 * n,), generator=g).tolist()
    # a residual stream: noise and an offset
    stream = torch.randn(2 * n, d, generator=g) + 3 * torch.randn(d, generator=g)
    feature = torch.randn(k, d, generator=g)
    planted = stream + feature[y] * 0.5  # each class adds its direction, weaker than the noise per coordinate
    acc = lambda X, labels: sum(a == b for a, b in zip(Probe().fit(X[:n], labels[:n]).predict(X[n:]), labels[n:])) / n
    assert acc(planted, y) > 0.95
    assert acc(planted, [f"c{v}" for v in y]) > 0.95  # any hashable labels
    assert abs(acc(stream, y) - 1 / k) < 0.07  # noise: no feature, chance
    assert Probe().fit(planted[:n], y[:n]).predict(planted[n:]) == Probe().fit(planted[:n], y[:n]).predict(planted[n:])


def test_trainable_subsets_leave_frozen_parameters_bit_identical():
    assert list(M.subsets(4)) == ["mlp", "attn", "embed", "lower", "upper", "layer0", "layer1", "layer2", "layer3"]
    assert list(M.subsets(1)) == ["mlp", "attn", "embed", "lower"]  # one layer: the halves and the layer coincide
    idx = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(4))
    config = dict(DEFAULTS, learning_rate=1e-2)
    for name, regex in M.subsets(4).items():
        torch.manual_seed(0)
        m = GPT(GPTConfig(**{**TINY, "n_layer": 4}))
        apply_trainable(m, regex)
        before = {n: p.detach().clone() for n, p in m.named_parameters()}
        opt = make_optimizer(m, config)
        for _ in range(3):
            opt.zero_grad()
            m(idx[:, :-1], idx[:, 1:])[1].backward()
            opt.step()
        changed = {n for n, p in m.named_parameters() if not torch.equal(p, before[n])}
        assert changed == {n for n, _ in m.named_parameters() if re.search(regex, n)}, name
        if name == "embed":
            assert changed == {"wte.weight"} and m.lm_head.weight is m.wte.weight  # the tied unembedding


def test_study_micro_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))  # the corpus is built in tmp_path, not in the repo
    monkeypatch.setenv("PBB_PRESET", "micro")  # main sets it; put back afterwards
    out, runs = tmp_path / "mech", tmp_path / "pbb"
    assert M.main(["--preset", "micro", "--out", str(out), "--pbb", str(runs)]) == 0
    rows = json.load(open(out / "mechanism.json"))
    assert rows and all(REQUIRED <= set(r) for r in rows)
    assert {r["part"] for r in rows} >= {"trainable", "weight_change", "knockout", "probe"}
    t = [r for r in rows if r["part"] == "trainable"]
    assert {r["component"] for r in t} == {"before stage 2", "all", *M.subsets(1)}
    assert {(r["split"].split("/")[0], r["mode"]) for r in t} == {(s, m) for s in ("S_train", "S_eval")
                                                                   for m in ("cot", "incontext")}
    stage1 = load_checkpoint(str(runs / "seed0" / "pbb_stage1" / "ckpt.pt"))["model"]
    for name, regex in M.subsets(1).items():  # each restricted stage 2 left every frozen parameter as stage 1 had it
        after = load_checkpoint(str(out / "seed0" / f"stage2_{name}" / "ckpt.pt"))
        assert after["config"]["trainable"] == regex
        for n, w in stage1.items():
            assert torch.equal(after["model"][n], w) != bool(re.search(regex, n)
                                                             or (n == "lm_head.weight" and name == "embed"))
    assert not (runs / "seed0" / "pbb_stage2" / "eval.json").exists()  # the runner's files are left alone
    k = [r for r in rows if r["part"] == "knockout"]
    comps = {(r["component"], r["layer"], r["head"], r["ablation"]) for r in k}
    assert comps == {("none", None, None, "none")} | {(c, 0, h, a) for c, h in (("attn", None), ("mlp", None),
                                                                                  ("head", 0), ("head", 1))
                                                      for a in ("zero", "mean")}
    assert {(r["mode"], r["metric"]) for r in k} == {("cot", "instruction_recall"), ("cot", "accuracy"),
                                                    ("incontext", "accuracy"), ("cot", "instruction_logprob"),
                                                    ("incontext", "answer_logprob")}
    assert all(r["n"] == 18 and r["split"] == "S_eval" for r in k)  # 6 S_eval functions x 3 inputs
    p = [r for r in rows if r["part"] == "probe"]
    assert {(r["position"], r["target"]) for r in p} == {(a, t) for a in ("name", "source")
                                                         for t in ("operator", "constant")}
    assert {r["curriculum"] for r in p if r["metric"] == "probe_accuracy"} == {"proactive", "proactive_stage1"}
    assert {r["layer"] for r in p} == {None, 0, 1}
    report = (out / "mechanism.md").read_text()
    for heading in ("## 1. Which parameters must change", "## 2. Which components retrieve it",
                    "## 3. Where it is decodable"):
        assert heading in report
    assert "| lower |" in report and "| mlp 0 | mean |" in report
    for png in ("knockouts.png", "probe.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"

    corpus = tmp_path / "corpora" / "corpus_tiny-s0"  # the patching pairs of this corpus: aligned, differing sources
    enc = load_tokenizer(str(corpus), open_corpus(str(corpus)))
    pairs, labels = M.patching_pairs(enc, json.load(open(corpus / "behaviours.json")), 10, 0)
    assert pairs and labels[0] == "<|bos|>" and "NAME" in labels and "X" in labels
    for clean, corrupt, tc, tk in pairs:
        assert len(clean) == len(corrupt) == len(labels) and tc != tk
        assert all((a != b) <= (r == "NAME") for a, b, r in zip(clean, corrupt, labels))  # they differ in names only

    # --probe: the probes alone, of any checkpoints; the stage-2 model's rows are the study's own
    stages = [str(runs / "seed0" / s / "ckpt.pt") for s in ("pbb_stage1", "pbb_stage2")]
    assert M.main(["--probe", *stages, "--out", str(tmp_path / "probe")]) == 0
    alone = json.load(open(tmp_path / "probe" / "probe.json"))
    label = str(runs / "seed*" / "pbb_stage2")
    key = lambda r: (r["position"], r["target"], r["split"], r["metric"], r["layer"])
    assert {key(r): r["value"] for r in alone if r["curriculum"] == label} == \
        {key(r): r["value"] for r in p if r["curriculum"] == "proactive"}
    with pytest.raises(SystemExit, match="no checkpoint at"):
        M.main(["--probe", str(tmp_path / "nowhere" / "ckpt.pt")])
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(SystemExit, match="not a readable checkpoint"):
        M.main(["--probe", str(tmp_path / "notes.txt")])
