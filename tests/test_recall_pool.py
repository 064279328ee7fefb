"""The recall pool of pretraining (corpus key recall_pool): declarations and CoT executions of the same
behaviours in separate documents, a declared-only split evaluated like S_eval, nothing of S_eval or
S_control in it, and the other splits and eval items unchanged by it (so runs with and without it pair)."""
import json
import os
import random

import pytest

from data import build, leakage
from data import templates as T
from data.config import validate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_cfg(**kw):
    return validate(dict(domains=["programs"], program_families={"arith": 1.0}, arith_max_statements=1,
                         arith_if_prob=0.0, n_behaviours={"pretrain": 10, "pretrain_val": 2, "S_train": 4, "S_eval": 4,
                                                          "S_control": 4}, decl_docs=3, exec_docs=2, exec_cot_docs=2,
                         pretrain_docs=1, ad_demos=[1], bpe_merges=60, **kw))


@pytest.fixture(scope="module")
def pooled():
    cfg = tiny_cfg(recall_pool=6, recall_pool_val=3, recall_decl_docs=4, recall_exec_docs=5, recall_direct_docs=2)
    behs = build.make_behaviours(cfg, 0)
    return cfg, behs, build.make_docs(behs, cfg, 0)


def text(doc, weighted=None):
    return "".join(t for t, w in doc.segments if weighted is None or (w > 0) == weighted)


def test_pool_documents_have_the_right_shapes(pooled):
    cfg, behs, mixtures = pooled
    by = {b.name: b for b in behs}
    pool = {b.name for b in behs if b.split == "recall_pool"}
    val = {b.name for b in behs if b.split == "pretrain_recall_val"}
    assert len(pool) == 6 and len(val) == 3
    docs = [d for d in mixtures["pretrain"] if d.name in pool | val]
    for name in pool | val:
        mine = [d for d in docs if d.name == name]
        decl = [d for d in mine if d.kind == "decl"]
        assert len(decl) == 4
        for d in decl:  # a declaration: pointer, then the source, and no execution
            assert text(d, weighted=True) == by[name].instruction and T.COT_CUE not in text(d)
        execs = [d for d in mine if d.kind != "decl"]
        assert len(execs) == (0 if name in val else 7)  # declared-only behaviours are never executed in training
        for d in execs:  # an execution from the name alone: the source is nowhere in the prompt
            assert by[name].instruction not in text(d, weighted=False)
            answer = T.parse_completion(text(d, weighted=True), "cot" if d.kind == "exec_cot" else "implicit")
            assert answer == repr(by[name].fn(d.inputs[0][1]))
        cot = [d for d in execs if d.kind == "exec_cot"]
        assert len(cot) == (0 if name in val else 5)
        for d in cot:  # the trace recalls the source first (cot_restates_instruction)
            assert (text(d, weighted=False).endswith(T.COT_CUE)
                    and text(d, weighted=True).startswith(by[name].instruction))


def test_nothing_of_S_eval_or_S_control_enters_the_pool(pooled):
    cfg, behs, mixtures = pooled
    held = {b.name for b in behs if b.split in ("S_eval", "S_control")}
    pool_docs = [d for d in mixtures["pretrain"] if d.name not in {b.name for b in behs if b.split == "pretrain"}]
    assert pool_docs and not any(name in text(d) for d in pool_docs for name in held)
    assert not {n for d in pool_docs for n, _ in d.inputs} & held


def test_an_execution_of_a_declared_only_behaviour_fails_the_build(pooled):
    cfg, behs, mixtures = pooled
    splits = {}
    for b in behs:
        splits.setdefault((b.domain, b.split), []).append(b.name)
    held, ad = {b.name: b.held for b in behs}, ["exec_S_eval_N1"]
    training = {k: v for k, v in mixtures.items() if not k.endswith("_val")}
    leakage.check(splits, training, held, ad)  # the built corpus is clean
    val = next(b for b in behs if b.split == "pretrain_recall_val")
    leaky = build.exec_doc(val, random.Random(0), "uniform", cot=True)  # on a training input
    with pytest.raises(leakage.LeakageError, match="pretrain_recall_val"):
        leakage.check(splits, {**training, "pretrain": training["pretrain"] + [leaky]}, held, ad)


def test_the_pool_leaves_the_other_splits_and_eval_items_as_they_were(tmp_path):
    dirs = [build.build(tiny_cfg(recall_pool=n), "t", str(tmp_path / str(n)), 0) for n in (0, 5)]
    with_pool = json.load(open(os.path.join(dirs[1], "manifest.json")))
    without = json.load(open(os.path.join(dirs[0], "manifest.json")))
    for split in ("S_train", "S_eval", "S_control", "pretrain"):
        assert with_pool["splits"]["programs"][split] == without["splits"]["programs"][split]
    for f in [f for f in without["eval_files"]]:
        assert open(os.path.join(dirs[0], f)).read() == open(os.path.join(dirs[1], f)).read(), f
    assert "pretrain_recall_val" not in without["splits"]["programs"]
    assert (with_pool["mixtures"]["pretrain"]["docs"]
            == without["mixtures"]["pretrain"]["docs"] + 5 * (10 + 10) + 40 * 10)
    items = [json.loads(l) for l in open(os.path.join(dirs[1], "eval.programs.pretrain_recall_val.cot.jsonl"))]
    srcs = {b["name"]: b for b in json.load(open(os.path.join(dirs[1], "behaviours.json")))}
    assert len(items) == 40 * 3 and all(srcs[it["behaviour"]]["split"] == "pretrain_recall_val" for it in items)
    for it in items:  # the expected answer is what the source returns
        ns = {}
        exec(srcs[it["behaviour"]]["source"], ns)
        assert it["answer"] == repr(ns[it["behaviour"]](it["input"]))


def test_bad_pool_settings_are_one_line():
    with pytest.raises(ValueError, match="recall_pool"):
        validate(dict(recall_pool=10, domains=["grammars"]))
    with pytest.raises(ValueError, match="recall_"):
        validate(dict(recall_exec_docs=-1))


def test_a_pool_of_grammars_declares_and_derives_them_in_separate_documents():
    """recall_pool_domain = "grammars": the pool's behaviours are grammars, declared in recall_decl_docs documents and
    derived by CoT from the name alone in recall_exec_docs others (the trace restates the rules, the string is in the
    language); the declared-only ones are never derived; refused without the grammars domain."""
    cfg = validate(dict(domains=["grammars"], grammar_recursive=True, grammar_right_linear=True, grammar_max_rhs=2,
                        grammar_nt_prob=0.7, grammar_max_len=8, grammar_min_len=2, grammar_min_strings=20,
                        grammar_trace="rules", n_behaviours={"pretrain": 6, "pretrain_val": 2, "S_train": 3,
                                                             "S_eval": 3, "S_control": 3}, decl_docs=2, exec_docs=2,
                        exec_cot_docs=2, pretrain_docs=1, ad_demos=[1], recall_pool=4, recall_pool_val=2,
                        recall_decl_docs=3, recall_exec_docs=2, recall_pool_domain="grammars"))
    behs = build.make_behaviours(cfg, 0)
    by = {b.name: b for b in behs}
    pool = {b.name for b in behs if b.split == "recall_pool"}
    val = {b.name for b in behs if b.split == "pretrain_recall_val"}
    assert len(pool) == 4 and len(val) == 2 and all(by[n].domain == "grammars" for n in pool | val)
    docs = build.make_docs(behs, cfg, 0)["pretrain"]
    for name in pool | val:
        mine = [d for d in docs if d.name == name]
        assert [text(d, weighted=True) for d in mine if d.kind == "decl"] == [by[name].instruction] * 3
        cot = [d for d in mine if d.kind != "decl"]
        assert len(cot) == (0 if name in val else 2) and all(d.kind == "exec_cot" for d in cot)
        for d in cot:
            assert by[name].instruction not in text(d, weighted=False)
            assert text(d, weighted=True).startswith(by[name].instruction)
            assert by[name].obj.is_valid(T.parse_completion(text(d, weighted=True), "cot"))
    with pytest.raises(ValueError, match="recall_pool_domain"):
        validate(dict(domains=["programs"], recall_pool=4, recall_pool_domain="grammars"))
