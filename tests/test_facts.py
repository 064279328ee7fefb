"""experiments/facts.py: fact completion scored against the sources in behaviours.json, per split, with the majority
baseline; a random model's completions go through the real generation path, then hand-made completions check the
scoring."""
import json
import os

import pytest

from data.build import ensure_corpus
from experiments import facts, tables
from tests.test_eval import save_ckpt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_fact_completion_is_scored_against_the_source_with_the_majority_baseline(tmp_path, monkeypatch):
    cfg = tmp_path / "corpus_facts.py"
    cfg.write_text(open(os.path.join(ROOT, "configs", "corpus_tiny.py")).read()
                   + 'domains = ["programs"]\nprogram_families = {"arith": 1.0}\narith_max_statements = 1\n'
                     'arith_if_prob = 0.0\nrecall_pool = 6\nrecall_pool_val = 3\nrecall_fact_docs = 4\n')
    corpus = ensure_corpus(str(cfg), str(tmp_path / "c"))
    ckpt = save_ckpt(tmp_path / "pretrain" / "ckpt.pt", corpus)
    sources = {b["name"]: b for b in json.load(open(os.path.join(corpus, "behaviours.json")))}
    fns = facts.functions(corpus)
    assert {s: len(v) for s, v in fns.items()} == {"recall_pool": 6, "pretrain_recall_val": 3, "S_eval": 6,
                                                   "S_control": 4}
    for split, items in fns.items():
        for name, parts in items:  # the parsed parts are the source's own
            ns = {}
            exec(sources[name]["source"], ns)
            c = int(parts["constant"])
            assert [ns[name](x) for x in range(10)] == [eval(f"(x {parts['operator']} {c}) % 10") for x in range(10)]
    rows = facts.score(ckpt)  # a random model: whatever it writes, scored
    assert {(r["split"], r["metric"]) for r in rows} == {(s, f) for s in fns for f in facts.PROMPTS}
    assert all(0 <= r["value"] <= 1 and r["ci_low"] <= r["value"] <= r["ci_high"] and r["curriculum"] == "pretrain"
               for r in rows)
    # completions right for the recall pool's functions and the first S_eval one, wrong elsewhere
    right = {n for n, _ in fns["recall_pool"]} | {fns["S_eval"][0][0]}
    parts = {n: p for items in fns.values() for n, p in items}

    def fake(model, enc, prompts, *args, **kw):
        out = []
        for p in prompts:
            name = next(n for n in parts if p in (t.format(name=n) for t in facts.PROMPTS.values()))
            fact = "constant" if "constant" in p else "operator"
            out.append(f" {parts[name][fact]}.\n" if name in right else " ?.\n")
        return out, 0
    monkeypatch.setattr(facts, "generate_texts", fake)
    got = {(r["split"], r["metric"]): r for r in facts.score(ckpt)}
    assert got["recall_pool", "constant"]["value"] == 1.0 and got["recall_pool", "operator"]["value"] == 1.0
    assert got["S_eval", "constant"]["value"] == 1 / 6 and got["S_control", "operator"]["value"] == 0.0
    for split, items in fns.items():
        counts = [sum(p["constant"] == c for _, p in items) for c in {p["constant"] for _, p in items}]
        assert got[split, "constant"]["majority"] == max(counts) / len(items)
    assert facts.completion_value(" //.\n") == "//" and facts.completion_value("") == ""
    # --minus: a run's mixture checkpoint paired with its pretrain on the same functions (the same weights here, and the
    # same completions: every difference 0), the per-function scores left out of the rows written
    run = tmp_path / "seed7"
    pre, mix = save_ckpt(run / "pretrain" / "ckpt.pt", corpus), save_ckpt(run / "mixture" / "ckpt.pt", corpus)
    out = tmp_path / "rows.json"
    assert facts.main([mix, pre, "--minus", "pretrain", "--out", str(out)]) == 0
    rows = json.load(open(out))
    diffs = [r for r in rows if r["metric"].endswith("_minus_pretrain")]
    want = {(s, f"{f}_minus_pretrain") for s in fns for f in facts.PROMPTS}
    assert {(r["split"], r["metric"]) for r in diffs} == want
    assert all(r["curriculum"] == "mixture" and r["value"] == r["ci_low"] == r["ci_high"] == 0 for r in diffs)
    assert len(rows) == len(diffs) + 2 * len(fns) * len(facts.PROMPTS)
    assert not any("hits" in r or "functions" in r for r in rows)


def test_minus_pairs_each_stage_with_its_runs_reference_on_the_same_functions(tmp_path):
    def rows(seed, stage, hits):
        return [dict(curriculum=stage, split="S_eval", metric="constant", seed=seed, hits=hits,
                     functions=["f0", "f1", "f2", "f3"], checkpoint=str(tmp_path / f"seed{seed}" / stage / "ckpt.pt"))]
    got = facts.paired(rows(0, "pretrain", [0, 0, 0, 1]) + rows(0, "mixture", [1, 1, 0, 1])
                       + rows(1, "pretrain", [0, 0, 0, 0]) + rows(1, "mixture", [1, 0, 0, 0])
                       + rows(2, "pretrain", [1, 1, 0, 1]) + rows(2, "mixture", [0, 0, 0, 1]), "pretrain")
    per = {r["seed"]: r for r in got if r["seed"] is not None}
    pooled = next(r for r in got if r["seed"] is None)
    assert (per[0]["value"], per[1]["value"], per[2]["value"]) == (0.5, 0.25, -0.5)  # each seed with its own pretrain
    assert abs(pooled["value"] - 0.25 / 3) < 1e-12  # the mean over seeds
    assert pooled["metric"] == "constant_minus_pretrain" and pooled["seeds"] == [0, 1, 2]
    assert pooled["curriculum"] == "mixture" and pooled["n"] == 4
    assert -1 <= pooled["ci_low"] < pooled["value"] < pooled["ci_high"] <= 1 and pooled["ci_low"] < 0
    # the table of one seed's rows: that seed's difference, as the command prints it
    one = facts.paired(rows(1, "pretrain", [0, 0, 0, 0]) + rows(1, "mixture", [1, 0, 0, 0]), "pretrain")
    table = tables.facts_minus(one + [dict(r, metric="operator_minus_pretrain") for r in one])
    assert "| mixture | S_eval | +0.250 [" in table and table.rstrip().endswith("| 1 |")
    # a checkpoint without its run's reference: one line naming what to add, before anything is read
    paths = [str(tmp_path / f"seed{s}" / st / "ckpt.pt") for s, st in ((0, "pretrain"), (0, "mixture"), (1, "mixture"))]
    with pytest.raises(SystemExit, match=r"add .*seed1.pretrain.ckpt\.pt"):
        facts.check_minus(paths, "pretrain")
    with pytest.raises(SystemExit, match="no checkpoint of stage pretrain"):
        facts.main([paths[1], "--minus", "pretrain"])  # the checkpoint does not exist: not read
    with pytest.raises(SystemExit, match="only pretrain checkpoints"):
        facts.check_minus(paths[:1], "pretrain")
    twice = [str(tmp_path / run / "seed0" / st / "ckpt.pt") for run in ("a", "b") for st in ("pretrain", "mixture")]
    with pytest.raises(SystemExit, match="same seed of two runs"):
        facts.check_minus(twice, "pretrain")
