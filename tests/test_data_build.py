import ast
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from data import build, format, leakage, tokenizer
from data import templates as T
from data.config import load_config, validate
from data.grammars import Grammar
from data.programs import compile_source
from pbb.evaluate import default_max_new_tokens

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, "configs", "corpus_tiny.py")
NEEDED = ["pretrain", "pretrain_val", "decl_S_train", "decl_S_eval", "decl_S_train_S_eval", "decl_val", "exec_S_train",
          "exec_cot_S_train", "decl_exec_S_train", "mixture", "replay", "exec_S_eval_N1", "exec_S_eval_N3"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build.ensure_corpus(TINY, str(tmp_path_factory.mktemp("c") / "tiny"))


def decoded(corpus, name):
    enc, docs = tokenizer.load(corpus), format.Docs(corpus, name)
    for i in range(len(docs)):
        toks, w = docs[i]
        yield enc.decode(toks.tolist()), enc.decode([t for t, x in zip(toks.tolist(), w) if x > 0])


def corpus_pair(tmp_path, base, added):
    """Corpora built from the config text `base` (tmp_path/a) and from `base + added` (tmp_path/b): their
    directories and manifests."""
    (tmp_path / "corpus_a.py").write_text(base)
    (tmp_path / "corpus_b.py").write_text(base + added)
    a, b = (build.ensure_corpus(str(tmp_path / f"corpus_{k}.py"), str(tmp_path / k)) for k in "ab")
    return a, b, format.open_corpus(a), format.open_corpus(b)


def behaviours(corpus):
    with open(os.path.join(corpus, "behaviours.json")) as f:
        return {b["name"]: b for b in json.load(f)}


def test_manifest_and_mixtures(tiny):
    m = format.open_corpus(tiny)
    assert set(NEEDED) <= set(m["mixtures"]) and m["tokenizer"]["file"] in m["files"]
    assert m["bos"] != m["eos"] and m["vocab_size"] == tokenizer.load(tiny).n_vocab
    for name in NEEDED:
        docs = format.Docs(tiny, name)
        assert len(docs) == m["mixtures"][name]["docs"] > 0
        assert docs.lengths().max() == m["mixtures"][name]["max_doc_tokens"] <= m["max_doc_tokens"] <= 256
        toks = np.asarray(docs.tokens)
        assert (toks[docs.offsets[:-1]] == m["bos"]).all() and (toks[docs.offsets[1:] - 1] == m["eos"]).all()
    names = [n for dom in m["splits"].values() for ns in dom.values() for n in ns]
    assert len(names) == len(set(names)) == len(behaviours(tiny))
    assert len(format.Docs(tiny, "exec_S_eval_N3")) == 3 * len(m["splits"]["programs"]["S_eval"]
                                                               + m["splits"]["grammars"]["S_eval"])


def test_same_seed_is_byte_identical_and_another_seed_differs(tiny, tmp_path):
    again = build.ensure_corpus(TINY, str(tmp_path / "again"))
    for f in os.listdir(tiny):
        with open(os.path.join(tiny, f), "rb") as a, open(os.path.join(again, f), "rb") as b:
            assert a.read() == b.read(), f
    other = format.open_corpus(build.ensure_corpus(TINY, str(tmp_path / "other"), seed=1))
    assert other["files"]["pretrain.tokens.npy"] != format.open_corpus(tiny)["files"]["pretrain.tokens.npy"]


def test_eval_items_match_the_rendered_source_and_the_grammars(tiny):
    m, behs, enc = format.open_corpus(tiny), behaviours(tiny), tokenizer.load(tiny)
    grammars = build.load_grammars(tiny)
    files = [f for f in m["eval_files"]]
    assert len([f for f in files if f.startswith("eval.")]) == 2 * 3 * 3 + 1  # + the grammar pretraining's gate
    gate = [json.loads(line) for line in open(os.path.join(tiny, "eval.grammars.pretrain_val.incontext.jsonl"))]
    assert sorted(it["behaviour"] for it in gate) == sorted(n for n, b in behs.items() if
                                                          (b["domain"], b["split"]) == ("grammars", "pretrain_val"))
    for f in files:
        for line in open(os.path.join(tiny, f)):
            it = json.loads(line)
            b = behs[it["behaviour"]]
            assert it["split"] == b["split"] and it["prompt"] and not it["prompt"][-1] == " "
            if it["domain"] == "programs":
                assert it["answer"] == repr(compile_source(_Src(b, behs))(it["input"]))
                assert (it["input"] in b["eval_inputs"]) == f.startswith("eval.")
                full = it["prompt"] + " " + it["answer"]
                assert (enc.encode_ordinary(full)[:len(enc.encode_ordinary(it["prompt"]))]
                        == enc.encode_ordinary(it["prompt"]))
            else:
                g = grammars[it["grammar"]]
                assert Grammar.from_json(b["grammar"]).render() == g.render() and 0 < it["chance_validity"] < 1
            if it["mode"] == "incontext":
                assert b["instruction"] in it["prompt"]


def test_trained_strings_are_the_answers_of_training_documents(tiny):
    """behaviours.json trained_strings, against the answers read back from the token files: S_train's from its exec
    and CoT mixtures, S_eval's from the largest demo mixture; none for S_control and pretrain_val."""
    behs, m, grammars = behaviours(tiny), format.open_corpus(tiny), build.load_grammars(tiny)
    trained = build.load_trained_strings(tiny)
    assert set(trained) == set(grammars) and trained == {n: set(b["trained_strings"]) for n, b in behs.items()
                                                         if n in grammars}
    read = {n: set() for n in grammars}
    for mix in ("exec_S_train", "exec_cot_S_train", f"exec_S_eval_N{max(m['config']['ad_demos'])}"):
        for text, answer in decoded(tiny, mix):
            names = set(re.findall(r"[a-z]+", text)) & set(grammars)
            if names:  # a grammar's document: its name, once
                (name,) = names
                answer = answer.replace("<|eos|>", "").split("\nanswer:")[-1].strip()
                assert grammars[name].is_valid(answer)
                read[name].add(answer)
    for n, g in grammars.items():
        split = behs[n]["split"]
        if split in ("S_train", "S_eval"):
            assert trained[n] == read[n] and trained[n], n
        elif split == "pretrain":
            assert trained[n] and all(g.is_valid(w) for w in trained[n]), n
        else:
            assert trained[n] == set(), n


def test_recursive_grammar_corpus(tmp_path):
    """grammar_recursive: strings of grammar_min_len..grammar_max_len terminals, CoT traces whose every form fits
    that bound and ends in the answer, chance_validity over the bounded language, documents within 256 tokens."""
    p = tmp_path / "corpus_rec.py"
    p.write_text(open(TINY).read() + 'domains = ["grammars"]\ngrammar_recursive = True\ngrammar_max_len = 10\n'
                 'grammar_min_len = 3\ngrammar_min_strings = 200\nmax_doc_tokens = 256\n')
    d = build.ensure_corpus(str(p), str(tmp_path / "rec"))
    grammars, trained = build.load_grammars(d), build.load_trained_strings(d)
    for name, g in grammars.items():
        assert 200 <= len(g.language(10)) <= 5000 and min(map(len, g.language(10))) >= 3
        assert all(g.is_valid(w) and 3 <= len(w.split()) <= 10 for w in trained[name])
    order = list(grammars[name].rules)  # some alternative uses its own or an earlier nonterminal: recursion
    assert any(g.is_nt(s) and order.index(s) <= order.index(x) for g in grammars.values() for x, alts in g.rules.items()
               for a in alts for s in a)
    n_cot = 0
    for text, answer in decoded(d, "exec_cot_S_train"):
        trace, answer = answer.replace("<|eos|>", "").split("\nanswer:")
        forms = [f for f in trace.split("\n") if "->" not in f]  # the rules, then one sentential form per line
        assert forms[0] == "S" and forms[-1] == answer.strip() and all(len(f.split()) <= 10 for f in forms)
        n_cot += 1
    assert n_cot == 6 * 3
    for line in open(os.path.join(d, "eval.grammars.S_eval.implicit.jsonl")):
        it = json.loads(line)
        assert it["chance_validity"] == grammars[it["grammar"]].chance_validity(10) < 0.2
    assert format.open_corpus(d)["max_doc_tokens"] <= 256


class _Src:
    """Enough of a Program to exec the full source stored in behaviours.json (callees included)."""
    def __init__(self, b, behs):
        self.name, self._src = b["name"], b["source"]
        for callee in re.findall(r"return (\w+)\((\w+)\(", b["source"])[:1]:
            self._src = "".join(behs[n]["source"] for n in callee) + b["source"]

    def full_source(self):
        return self._src


def _exec_regexes():
    out = []
    for t in T.EXEC["programs"] + T.HELDOUT_EXEC["programs"]:
        r = re.escape(t).replace(re.escape("{name}"), r"(?P<name>[a-z]+)").replace(re.escape("{x}"), r"(?P<x>.+?)")
        out.append(re.compile(r))
    return out


def test_written_training_files_hold_no_leaks(tiny):
    """Independent of the builder's records: read the token files back and look at the text."""
    m, behs = format.open_corpus(tiny), behaviours(tiny)
    s_eval = {n for d in m["splits"].values() for n in d["S_eval"]}
    s_control = {n for d in m["splits"].values() for n in d["S_control"]}
    regexes, seen_inputs = _exec_regexes(), 0
    for mix in m["mixtures"]:
        if mix.endswith("_val"):
            continue
        for text, trained in decoded(tiny, mix):
            words = set(re.findall(r"[a-z]+", text))
            assert not words & s_control, mix
            if words & s_eval and not mix.startswith("exec_S_eval_N"):
                # a decl document of one of them (a composition's source names its callees)
                assert trained in {behs[n]["instruction"] + "<|eos|>" for n in words & s_eval}, mix
            for line in text.replace("<|bos|>", "").split("\n"):
                for r in regexes:
                    hit = r.match(line)
                    if hit and hit["name"] in behs and behs[hit["name"]]["domain"] == "programs":
                        try:
                            x = ast.literal_eval(hit["x"])
                        except (ValueError, SyntaxError):
                            continue
                        seen_inputs += 1
                        assert x not in behs[hit["name"]]["eval_inputs"], (mix, line)
    assert seen_inputs > 500


def _doc(kind, split, name, inputs=(), text="x"):
    return T.Doc(kind, "programs", split, name, [(name, x) for x in inputs], [(text, 1.0)])


@pytest.mark.parametrize("case", ["two_splits", "eval_input", "trace_eval_input", "s_eval_exec", "s_control_doc",
                                  "s_control_text"])
def test_each_leakage_check_fires(case):
    splits = {("programs", "S_train"): ["bipoka"], ("programs", "S_eval"): ["rusoda"],
              ("programs", "S_control"): ["mezavi"]}
    held = {"bipoka": {3}, "rusoda": {4}, "mezavi": {5}}
    clean = {"exec_S_train": [_doc("exec", "S_train", "bipoka", [1], "bipoka(1) = 2")],
             "decl_S_eval": [_doc("decl", "S_eval", "rusoda", [], "def rusoda(x):")]}
    leakage.check(splits, clean, held, ad=["exec_S_eval_N1"])
    leakage.check(splits, dict(clean, exec_S_eval_N1=[_doc("exec", "S_eval", "rusoda", [1])]), held,
                  ad=["exec_S_eval_N1"])
    leaky, training = dict(splits), dict(clean)
    if case == "two_splits":
        leaky[("grammars", "S_eval")] = ["bipoka"]
    elif case == "eval_input":
        training["exec_S_train"] = [_doc("exec", "S_train", "bipoka", [3])]
    elif case == "trace_eval_input":  # a composition's trace runs bipoka on its held-out input 3
        training["exec_cot_S_train"] = [T.Doc("exec_cot", "programs", "S_train", "bipoka",
                                              [("bipoka", 1), ("bipoka", 3)], [("bipoka(1) = 3\nbipoka(3) = 2", 1.0)])]
    elif case == "s_eval_exec":
        training["exec_S_train"] = [_doc("exec", "S_eval", "rusoda", [1])]
    elif case == "s_control_doc":
        training["decl_S_train"] = [_doc("decl", "S_control", "mezavi")]
    else:
        training["decl_S_train"] = [_doc("decl", "S_train", "bipoka", [], "def bipoka(x):\n    return mezavi(x)\n")]
    with pytest.raises(leakage.LeakageError, match="behaviour|evaluation input"):
        leakage.check(leaky, training, held, ad=["exec_S_eval_N1"])


def test_a_leaky_build_fails_loudly_and_leaves_no_corpus(tmp_path, monkeypatch):
    real = build.make_docs

    def leaky(behs, cfg, seed):
        m = real(behs, cfg, seed)
        b = next(b for b in behs if b.split == "S_train" and b.domain == "programs")
        m["exec_S_train"].append(_doc("exec", "S_train", b.name, [b.eval_inputs[0]]))
        return m
    monkeypatch.setattr(build, "make_docs", leaky)
    with pytest.raises(leakage.LeakageError, match="evaluation input"):
        build.ensure_corpus(TINY, str(tmp_path / "leaky"))
    assert os.listdir(tmp_path) == []  # neither the corpus nor its temporary directory


def test_corrupt_or_foreign_corpora_are_refused(tiny, tmp_path):
    def fresh():
        d = tmp_path / f"c{len(os.listdir(tmp_path))}"
        shutil.copytree(tiny, d)
        return str(d)
    d = fresh()
    with open(os.path.join(d, "exec_S_train.tokens.npy"), "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x07")
    with pytest.raises(format.CorpusError, match="does not match its hash"):
        build.ensure_corpus(TINY, d)
    d = fresh()
    os.remove(os.path.join(d, "decl_S_eval.offsets.npy"))
    with pytest.raises(format.CorpusError, match="missing"):
        build.ensure_corpus(TINY, d)
    d = fresh()
    m = json.load(open(os.path.join(d, "manifest.json")))
    m["tokenizer"]["pat_str"] = r"\S+"
    json.dump(m, open(os.path.join(d, "manifest.json"), "w"))
    with pytest.raises(format.CorpusError, match="tokenizer"):
        build.ensure_corpus(TINY, d)
    with pytest.raises(format.CorpusError, match="another config or seed"):
        build.ensure_corpus(TINY, fresh(), seed=5)
    d = fresh()
    os.remove(os.path.join(d, "manifest.json"))
    with pytest.raises(format.CorpusError, match="not a corpus"):
        build.ensure_corpus(TINY, d)


def test_config_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus config key 'decl_doc'; did you mean 'decl_docs'"):
        validate({"decl_doc": 3})
    with pytest.raises(ValueError, match="'exec_docs' must be like 20"):
        validate({"exec_docs": "many"})
    with pytest.raises(ValueError, match="instruction_form"):
        validate({"instruction_form": "prose"})
    with pytest.raises(ValueError, match="compose_splits from"):
        validate({"compose_splits": ["S_tran"]})
    with pytest.raises(ValueError, match="compose_trace"):
        validate({"compose_trace": "deep"})
    p = tmp_path / "corpus_bad.py"
    p.write_text("import math\n_private = 1\nseed = 3\n")
    assert load_config(str(p)) == ("corpus_bad", validate({"seed": 3}))


@pytest.mark.parametrize("body,msg", [("n_behaviors = {}\n", "did you mean 'n_behaviours'"),
                                      ("seed = (\n", "does not run as Python"), (None, "not found")])
def test_cli_prints_one_error_line_and_exits_2(tmp_path, body, msg):
    p = tmp_path / "corpus_x.py"
    if body is not None:
        p.write_text(body)
    r = subprocess.run([sys.executable, "-m", "data.build", str(p), "--out", str(tmp_path / "out")],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_builds_and_prints_the_directory_deterministically_across_processes(tmp_path):
    env = dict(os.environ, PYTHONHASHSEED="123")
    r = subprocess.run([sys.executable, "-m", "data.build", TINY, "--out", str(tmp_path / "cli"), "--seed", "2"],
                       cwd=REPO, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == str(tmp_path / "cli")
    here = format.open_corpus(build.ensure_corpus(TINY, str(tmp_path / "here"), seed=2))
    assert format.open_corpus(r.stdout.strip()) == here and here["seed"] == 2


@pytest.mark.parametrize("extra", ['instruction_form = "description"\ntrain_input_dist = "skewed"\n'
                                   'domains = ["programs"]\n',
                                   'domains = ["grammars"]\neval_templates = "heldout"\n'])
def test_config_variants_build(tmp_path, extra):
    p = tmp_path / "corpus_variant.py"
    p.write_text(open(TINY).read() + extra)
    d = build.ensure_corpus(str(p), str(tmp_path / "v"))
    m, behs = format.open_corpus(d), behaviours(d)
    assert list(m["splits"]) == [m["config"]["domains"][0]]
    if "description" in extra:
        b = next(b for b in behs.values() if b["split"] == "S_train")
        assert b["instruction"] == b["description"] and any(t == b["instruction"] + "<|eos|>"
                                                             for _, t in decoded(d, "decl_S_train"))
        xs = [json.loads(line)["input"] for line in open(os.path.join(d, "rl.programs.S_train.jsonl"))]
        ints = [x for x in xs if isinstance(x, int)]
        assert sum(ints) / len(ints) < 3.5  # skewed towards low inputs (uniform over 0..9 has mean 4.5)
    else:
        items = [json.loads(line) for line in open(os.path.join(d, "eval.grammars.S_eval.implicit.jsonl"))]
        assert all(it["template"] in T.HELDOUT_EXEC["grammars"] for it in items)


def test_full_corpus_builds_both_domains(tmp_path):
    """configs/corpus_full.py (the gpu preset's) with a 300-behaviour pretraining pool, to keep the test short."""
    cfg = tmp_path / "corpus_full.py"
    cfg.write_text(open(os.path.join(REPO, "configs", "corpus_full.py")).read()
                   + 'n_behaviours = {**n_behaviours, "pretrain": 300}\n')
    d = build.ensure_corpus(str(cfg), str(tmp_path / "full"))
    m = format.open_corpus(d)
    assert set(m["splits"]) == {"programs", "grammars"} and m["max_doc_tokens"] <= 512
    assert {f"exec_S_eval_N{n}" for n in (1, 3, 10, 30, 100)} <= set(m["mixtures"])


def test_default_corpus_pretrain_weights_and_replay(tmp_path):
    """The default with grammars (corpus_both.py: the default's programs, and grammar documents with their own
    counts of strings); pretrain answers (and traces) weigh 1, the rest pretrain_prompt_weight;
    pretrain_replay is a sample of the pretrain documents themselves; the recall pool's documents (weights 0 and 1, as
    stage documents: tests/test_recall_pool.py) are in it too. configs/corpus_both.py with 200 pretraining
    behaviours instead of 10000, 4 per S_* split instead of 40, a recall pool of 20 instead of 400 and a replay sample
    of 100 instead of 500, to keep it short."""
    default = os.path.join(REPO, "configs", "corpus_both.py")
    cfg = tmp_path / "corpus_both.py"
    small = {"pretrain": 200, "S_train": 4, "S_eval": 4, "S_control": 4}
    cfg.write_text(open(default).read() + f"n_behaviours = {{**n_behaviours, **{small}}}\npretrain_replay_docs = 100\n"
                   "recall_pool = 20\n")
    d = build.ensure_corpus(str(cfg), str(tmp_path / "default"))
    m, enc = format.open_corpus(d), tokenizer.load(d)
    base = load_config(default)[1]  # every other key is the default corpus's
    assert m["config"] == {**base, "n_behaviours": {**base["n_behaviours"], **small}, "pretrain_replay_docs": 100,
                           "recall_pool": 20}
    assert set(m["splits"]) == {"programs", "grammars"} and m["config"]["pretrain_prompt_weight"] == 0.1
    pool = set(m["splits"]["programs"]["recall_pool"] + m["splits"]["programs"]["pretrain_recall_val"])
    grammars = build.load_grammars(d)
    docs, kinds, n_pool, n_grammar = format.Docs(d, "pretrain"), set(), 0, 0
    for i in range(120):
        toks, w = docs[i]
        text = enc.decode(toks.tolist())
        heavy = enc.decode([t for t, x in zip(toks.tolist(), w) if x == 1.0])
        if " -> " in text:  # a grammar document: its rules, then grammar_pretrain_execs strings or one derivation
            n_grammar += 1
            g = grammars[next(n for n in re.findall(r"[a-z]+", text) if n in grammars)]
            assert set(np.unique(w[1:]).tolist()) <= {0.0, np.float32(0.1).item(), 1.0}
            if "trace:" in text:
                answers = re.findall(r"answer: ([a-z ]+)<", text)
                assert len(answers) == m["config"]["grammar_pretrain_cot_execs"] and all(g.is_valid(a) for a in answers)
            else:  # header, one line per rule, then one line per string
                assert text.count("\n") + 1 - 1 - len(g.rules) == m["config"]["grammar_pretrain_execs"]
            continue
        if set(re.findall(r"[a-z]+", text)) & pool:  # a recall-pool document
            n_pool += 1
            assert set(np.unique(w[1:]).tolist()) <= {0.0, 1.0}
            continue
        assert set(np.unique(w[1:]).tolist()) <= {np.float32(0.1).item(), 1.0}
        kinds.add("trace:" in text)
        if "trace:" in text:  # a CoT document: pretrain_cot_execs traces, each with its answer
            assert text.count("answer:") == m["config"]["pretrain_cot_execs"] == heavy.count("answer:")
        else:  # the answers: one number per execution, then eos
            assert heavy.replace("<|eos|>", "").split() == [line.rsplit(" ", 1)[1]
                                                            for line in text[:-len("<|eos|>")].split("\n")[4:]]
    assert kinds == {True, False} and n_pool and n_grammar  # both kinds of program document, the pool's, grammars
    pre = {docs[i][0].tobytes() for i in range(len(docs))}
    replay = format.Docs(d, "pretrain_replay")
    assert len(replay) == m["config"]["pretrain_replay_docs"] and all(replay[i][0].tobytes() in pre
                                                                      for i in range(len(replay)))


def test_cot_traces_without_the_instruction(tmp_path):
    """cot_restates_instruction = False: CoT traces (training documents and what eval expects) skip the
    source; a corpus built before the key existed still verifies (missing keys read as their defaults)."""
    p = tmp_path / "corpus_norestate.py"
    p.write_text(open(TINY).read() + 'domains = ["programs"]\ncot_restates_instruction = False\n')
    d = build.ensure_corpus(str(p), str(tmp_path / "n"))
    behs = behaviours(d)
    cot = [full for full, _ in decoded(d, "exec_cot_S_train")]
    assert cot and all("\ntrace:\n" in t for t in cot)
    assert not any(b["instruction"] in t for t in cot for b in behs.values())  # no source restated
    manifest_path = os.path.join(d, "manifest.json")
    m = json.load(open(manifest_path))
    del m["config"]["cot_restates_instruction"]  # as written before the key existed: means True
    json.dump(m, open(manifest_path, "w"))
    with pytest.raises(format.CorpusError, match="another config"):
        build.ensure_corpus(str(p), str(tmp_path / "n"))
    q = tmp_path / "corpus_restate.py"
    q.write_text(open(TINY).read() + 'domains = ["programs"]\n')
    assert build.verify(d, load_config(str(q))[1], 0)


def test_nested_composition_traces(tmp_path):
    """compose_trace = "nested": a composition f = g(h(x)) is executed by restating f, then h's source and steps
    on x, then g's source and steps on h(x); every value is the one its source computes when run. compose_splits
    keeps compositions out of the other splits."""
    p = tmp_path / "corpus_nested.py"
    p.write_text(open(TINY).read() + 'domains = ["programs"]\nprogram_families = {"arith": 0.5, "compose": 0.5}\n'
                 'compose_trace = "nested"\ncompose_splits = ["S_train", "S_eval"]\n')
    d = build.ensure_corpus(str(p), str(tmp_path / "n"))
    fams = {(b["split"], b["family"]) for b in behaviours(d).values()}
    assert {("S_train", "compose"), ("S_eval", "compose")} <= fams
    assert not [s for s, f in fams if f == "compose" and s not in ("S_train", "S_eval")]
    cfg = load_config(str(p))[1]
    cot, n = [full for full, _ in decoded(d, "exec_cot_S_train")], 0
    for b in build.make_behaviours(cfg, cfg["seed"]):
        if b.family != "compose":
            continue
        f, h, g = (compile_source(o) for o in (b.obj, b.obj.h, b.obj.g))
        for x in b.obj.inputs():
            _, _, ans, trace = b.example(random.Random(0), None, x)
            assert trace.startswith(b.obj.source + b.obj.h.source) and trace.count("def ") == 3
            on_h, on_g = trace[len(b.obj.source + b.obj.h.source):].split("\n" + b.obj.g.source)
            assert on_h.splitlines()[0] == f"x = {x}" and on_h.splitlines()[-1].endswith(f"= {h(x)}")
            assert on_g.splitlines()[0] == f"x = {h(x)}" and on_g.splitlines()[-1].endswith(f"= {g(h(x))}")
            assert ans == repr(f(x))
            n += 1
        if b.split == "S_train":  # its training documents hold these traces
            assert any(b.obj.source + b.obj.h.source + "x = " in t for t in cot)
    assert n


def test_uniform_demonstrations_control_leaves_the_rest_of_the_corpus_alone(tmp_path):
    """ad_uniform_control: exec_S_eval_uniform_N{n} (uniform inputs, n per S_eval behaviour, no evaluation input)
    beside the skewed exec_S_eval_N{n}; the tokenizer, every other mixture and every eval item as without it."""
    base = open(TINY).read() + ('domains = ["programs"]\ntrain_input_dist = "skewed"\neval_input_dist = "tail"\n'
                                'ad_demos = [3, 100]\nprogram_families = {"arith": 1.0}\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, "ad_uniform_control = True\n")
    new = {k for k in mb["files"] if "_uniform_" in k}
    assert new and {k: v for k, v in mb["files"].items() if k not in new} == ma["files"]  # hashes of every other file
    cfg = load_config(str(tmp_path / "corpus_b.py"))[1]
    behs = build.make_behaviours(cfg, cfg["seed"])
    docs, held = build.make_docs(behs, cfg, cfg["seed"]), {x.name: x.held for x in behs}
    mean = {}
    for mix in ("exec_S_eval_N100", "exec_S_eval_uniform_N100"):
        assert len(docs[mix]) == 100 * len(ma["splits"]["programs"]["S_eval"]) == len(format.Docs(b, mix))
        xs = [(n, x) for d in docs[mix] for n, x in d.inputs]
        assert xs and not [x for n, x in xs if x in held[n]]
        mean[mix] = sum(x for _, x in xs) / len(xs)
    s_eval = [x for x in behs if x.split == "S_eval"]
    uniform = sum(sum(set(x.obj.inputs()) - x.held) / (len(x.obj.inputs()) - len(x.held)) for x in s_eval) / len(s_eval)
    assert abs(mean["exec_S_eval_uniform_N100"] - uniform) < 0.4  # the mean of the inputs left (3.4), 0.12 the s.e.
    assert mean["exec_S_eval_N100"] < uniform - 1  # skewed to low inputs


def test_more_s_eval_behaviours_leave_tokenizer_pretraining_s_train_and_first_eval_items_alone(tmp_path):
    """s_eval_extra: N more S_eval behaviours, declared like the others (decl_docs each), with their eval items after
    the others'; the tokenizer, pretraining, S_train's documents, the other splits' eval items and the first S_eval
    items are byte for byte as without them; refused without the programs domain."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 1.0}\nrecall_pool = 4\n'
                                'recall_pool_val = 2\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, "s_eval_extra = 5\n")
    changed = {f for f in ma["files"] if ma["files"][f] != mb["files"][f]}
    assert changed and all(f.startswith(("decl_S_eval.", "decl_val.", "decl_S_train_S_eval.", "mixture.",
                                         "exec_S_eval_N", "eval.programs.S_eval.", "behaviours.json"))
                           for f in changed), changed
    assert set(ma["files"]) == set(mb["files"]) and any(f.startswith("pretrain.") for f in ma["files"])
    first, extra = (ma["splits"]["programs"]["S_eval"],
                    mb["splits"]["programs"]["S_eval"][len(ma["splits"]["programs"]["S_eval"]):])
    assert mb["splits"]["programs"]["S_eval"][:len(first)] == first and len(extra) == 5
    others = {n for s, ns in mb["splits"]["programs"].items() if s != "S_eval" for n in ns}
    assert not others & set(extra) and len(set(extra)) == 5
    cfg = load_config(str(tmp_path / "corpus_b.py"))[1]
    for mode in ("implicit", "cot", "incontext"):
        f = f"eval.programs.S_eval.{mode}.jsonl"
        old, new = (open(os.path.join(c, f)).read().splitlines() for c in (a, b))
        assert new[:len(old)] == old and len(new) == len(old) + 5 * cfg["eval_inputs"]
        assert {json.loads(line)["behaviour"] for line in new[len(old):]} == set(extra)
    declared = collections.Counter(re.match(r"def (\w+)", t).group(1) for _, t in decoded(b, "decl_S_eval"))
    assert all(declared[n] == cfg["decl_docs"] for n in first + extra)
    with pytest.raises(ValueError, match="s_eval_extra"):
        validate({"domains": ["grammars"], "s_eval_extra": 3})


def test_depth3_compositions_are_read_only_s_eval_behaviours_with_nested_traces(tmp_path):
    """s_eval_depth3: N compositions f = g(h(k(x))) of three plain S_eval functions, declared in S_eval, their items
    appended to S_eval's files (family compose3); the tokenizer, pretraining and S_train files stay byte for byte; a
    nested trace restates f, then k, h and g each before its steps; every answer is what the sources return."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 0.5, "compose": 0.5}\n'
                                'compose_splits = ["S_train", "S_eval", "S_control"]\ncompose_trace = "nested"\n'
                                'n_behaviours = {"pretrain": 20, "pretrain_val": 4, "S_train": 6, "S_eval": 8, '
                                '"S_control": 4}\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, "s_eval_depth3 = 3\n")
    changed = {f for f in ma["files"] if ma["files"][f] != mb["files"][f]}
    kept = {f for f in ma["files"] if f.startswith(("pretrain.", "tokenizer.", "decl_S_train.", "exec_S_train.",
                                                    "exec_cot_S_train.", "decl_exec_S_train.", "eval.programs.S_train.",
                                                    "eval.programs.S_control.", "rl.programs.S_train."))}
    assert len(kept) > 10 and not kept & changed and "decl_S_eval.tokens.npy" in changed
    cfg = load_config(str(tmp_path / "corpus_b.py"))[1]
    behs = {x.name: x for x in build.make_behaviours(cfg, cfg["seed"])}
    deep = [n for n in mb["splits"]["programs"]["S_eval"] if behs[n].family == "compose3"]
    assert len(deep) == 3 and mb["splits"]["programs"]["S_eval"][-3:] == deep
    for n in deep:
        parts = behs[n].obj.parts
        assert len({p.name for p in parts}) == 3 and all(behs[p.name].split == "S_eval" and
                                                         behs[p.name].family == "arith" for p in parts)
        k, h, g = parts
        assert behs[n].instruction == f"def {n}(x):\n    return {g.name}({h.name}({k.name}(x)))\n"
        cot = behs[n].cot(behs[n].obj, 3)
        at = [cot.index(p.source) for p in parts]
        assert cot.startswith(behs[n].instruction) and at == sorted(at) and at[0] == len(behs[n].instruction)
        assert cot.endswith(f"{g.run(h.run(k.run(3))) % 10}")
    for mode in ("implicit", "cot"):
        f = f"eval.programs.S_eval.{mode}.jsonl"
        old, new = (open(os.path.join(c, f)).read().splitlines() for c in (a, b))
        assert new[:len(old)] == old and {json.loads(line)["family"] for line in new[len(old):]} == {"compose3"}
        for line in new:
            item = json.loads(line)
            assert item["answer"] == repr(build.compile_source(behs[item["behaviour"]].obj)(item["input"]))
    declared = collections.Counter(re.match(r"def (\w+)", t).group(1) for _, t in decoded(b, "decl_S_eval"))
    assert all(declared[n] == cfg["decl_docs"] for n in deep)
    with pytest.raises(ValueError, match="s_eval_depth3"):
        validate({"domains": ["grammars"], "s_eval_depth3": 3})


def test_more_s_train_behaviours_leave_tokenizer_pretraining_s_eval_and_first_eval_items_alone(tmp_path):
    """s_train_extra: N more S_train behaviours (families from s_train_extra_families), declared and executed like
    the others, with their eval items and RL prompts after the others'; the tokenizer, pretraining, S_eval's and
    S_control's files and the first S_train items are byte for byte as without them (the manifest's hashes);
    every recorded answer is what the source returns; refused without the programs domain."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 1.0}\nrecall_pool = 4\n'
                                'recall_pool_val = 2\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, 's_train_extra = 6\ns_train_extra_families = {"arith": 0.5, '
                                                '"compose": 0.5}\n')
    changed = {f for f in ma["files"] if ma["files"][f] != mb["files"][f]}
    assert changed and all(f.startswith(("decl_S_train.", "decl_val.", "decl_S_train_S_eval.", "mixture.", "replay.",
                                         "exec_S_train.", "exec_cot_S_train.", "decl_exec_S_train.",
                                         "eval.programs.S_train.", "rl.programs.S_train.", "behaviours.json"))
                           for f in changed), changed
    kept = {f for f in ma["files"] if f.startswith(("pretrain.", "tokenizer.", "eval.programs.S_eval.",
                                                    "eval.programs.S_control.", "decl_S_eval."))}
    assert len(kept) > 10 and not kept & changed
    assert set(ma["files"]) == set(mb["files"]) and ma["tokenizer"] == mb["tokenizer"]
    first, extra = (ma["splits"]["programs"]["S_train"],
                    mb["splits"]["programs"]["S_train"][len(ma["splits"]["programs"]["S_train"]):])
    assert mb["splits"]["programs"]["S_train"][:len(first)] == first and len(extra) == 6
    assert {s: ns for s, ns in mb["splits"]["programs"].items() if s != "S_train"} == \
        {s: ns for s, ns in ma["splits"]["programs"].items() if s != "S_train"}
    cfg = load_config(str(tmp_path / "corpus_b.py"))[1]
    for f in ("eval.programs.S_train.implicit.jsonl", "eval.programs.S_train.cot.jsonl", "rl.programs.S_train.jsonl"):
        old, new = (open(os.path.join(c, f)).read().splitlines() for c in (a, b))
        assert new[:len(old)] == old and len(new) > len(old)
        assert {json.loads(line)["behaviour"] for line in new[len(old):]} == set(extra)
    behs = {x.name: x for x in build.make_behaviours(cfg, cfg["seed"])}
    assert {behs[n].family for n in extra} == {"arith", "compose"}
    for n in extra:  # a composition composes two other extra behaviours, each trained alone
        if behs[n].family == "compose":
            assert {behs[n].obj.g.name, behs[n].obj.h.name} <= set(extra)
    for line in open(os.path.join(b, "eval.programs.S_train.implicit.jsonl")):
        item = json.loads(line)
        assert item["answer"] == repr(behs[item["behaviour"]].fn(item["input"]))
    declared = collections.Counter(re.match(r"def (\w+)", t).group(1) for _, t in decoded(b, "decl_S_train"))
    assert all(declared[n] == cfg["decl_docs"] for n in first + extra)
    docs = build.make_docs(list(behs.values()), cfg, cfg["seed"])
    for mix, k in (("exec_S_train", "exec_docs"), ("exec_cot_S_train", "exec_cot_docs")):
        executed = collections.Counter(d.name for d in docs[mix])
        assert all(executed[n] == cfg[k] for n in first + extra) and len(format.Docs(b, mix)) == len(docs[mix])
    with pytest.raises(ValueError, match="s_train_extra"):
        validate({"domains": ["grammars"], "s_train_extra": 3})
    with pytest.raises(ValueError, match="unknown name"):
        validate({"s_train_extra": 3, "s_train_extra_families": {"loop": 1.0}})
    with pytest.raises(ValueError, match="a plain family"):
        validate({"s_train_extra": 3, "s_train_extra_families": {"compose": 1.0}})
    with pytest.raises(ValueError, match="decl_rewrites"):  # rewrites exist for arith sources only
        validate({"program_families": {"arith": 1.0}, "decl_rewrites": 3, "s_train_extra": 3,
                  "s_train_extra_families": {"cipher": 1.0}})


def test_declaration_rewrites_are_equivalent_sources_and_leave_the_rest_of_the_corpus_alone(tmp_path):
    """decl_rewrites: S_train's and S_eval's declarations cycle through the source and distinct rewrites of it,
    each of which returns what the source returns on every input (run here with exec); tokenizer, pretraining
    documents, executions and eval items hash as without it; a bad value is refused."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 1.0}\narith_max_statements = 2\n'
                                'arith_if_prob = 0.5\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, "decl_rewrites = 3\n")
    changed = {f for f in ma["files"] if ma["files"][f] != mb["files"][f]}
    assert changed and all(f.split(".")[0] in ("decl_S_train", "decl_S_eval", "decl_S_train_S_eval",
                                               "decl_exec_S_train", "mixture", "replay") for f in changed)
    sources = {x["name"]: x["source"] for x in json.load(open(os.path.join(b, "behaviours.json")))}
    decls = {t for mix in ("decl_S_train", "decl_S_eval") for _, t in decoded(b, mix)}
    in_mixture = {t for text, t in decoded(b, "mixture")
                  if t.startswith("def ") and T.ANSWER_CUE not in t}  # its declarations
    assert in_mixture and in_mixture <= decls and len(in_mixture) == len(decls)  # the mixture shows the same rewrites
    for mix, split in (("decl_S_train", "S_train"), ("decl_S_eval", "S_eval")):
        shown = collections.defaultdict(collections.Counter)
        for _, trained in decoded(b, mix):
            name = trained.split("(", 1)[0].split()[-1]
            shown[name][trained.removesuffix("<|eos|>")] += 1
        assert sorted(shown) == sorted(mb["splits"]["programs"][split])
        for name, forms in shown.items():
            assert len(forms) == 3 and forms[sources[name]] >= 2  # the source and two rewrites, in turn (8 docs)
            want = {}
            exec(sources[name], want)
            for text in forms:
                ns = {}
                exec(text, ns)
                assert [ns[name](x) for x in range(10)] == [want[name](x) for x in range(10)], text
    for bad in ("0", "2\ninstruction_form = 'description'"):
        (tmp_path / "corpus_c.py").write_text(base + f"decl_rewrites = {bad}\n")
        with pytest.raises(ValueError, match="decl_rewrites must be"):
            load_config(str(tmp_path / "corpus_c.py"))


def test_s_train_execs_drops_or_cuts_s_train_executions_and_leaves_the_rest_alone(tmp_path):
    """s_train_execs: "direct" / "cot" drop S_train's CoT / direct executions from every mixture, "both_nosource"
    keeps them with traces that no longer restate the source; tokenizer, pretraining documents, declarations and
    eval items hash as with "both"; an unknown value is refused."""
    base = open(TINY).read() + 'domains = ["programs"]\nprogram_families = {"arith": 1.0}\n'
    dirs, m = {}, {}
    for how in ("both", "direct", "cot", "both_nosource"):
        (tmp_path / f"corpus_{how}.py").write_text(base + f"s_train_execs = {how!r}\n")
        dirs[how] = build.ensure_corpus(str(tmp_path / f"corpus_{how}.py"), str(tmp_path / how))
        m[how] = format.open_corpus(dirs[how])
    docs = {how: {k: v["docs"] for k, v in m[how]["mixtures"].items()} for how in m}
    n_exec, n_cot = docs["both"]["exec_S_train"], docs["both"]["exec_cot_S_train"]
    cfg = load_config(str(tmp_path / "corpus_both.py"))[1]
    replay = build.make_docs(build.make_behaviours(cfg, cfg["seed"]), cfg, cfg["seed"])["replay"]
    assert n_exec and n_cot
    assert docs["direct"]["exec_cot_S_train"] == 0 and docs["direct"]["exec_S_train"] == n_exec
    assert docs["cot"]["exec_S_train"] == 0 and docs["cot"]["exec_cot_S_train"] == n_cot
    for how, dropped in (("direct", n_cot), ("cot", n_exec)):
        assert docs[how]["mixture"] == docs["both"]["mixture"] - dropped
        assert docs[how]["decl_exec_S_train"] == docs["both"]["decl_exec_S_train"] - dropped
        kind = "exec_cot" if how == "direct" else "exec"
        assert docs[how]["replay"] == sum(d.kind != kind for d in replay)  # the replay sample loses them too
    assert docs["both_nosource"] == docs["both"]
    sources = {x["name"]: x["source"] for x in json.load(open(os.path.join(dirs["both"], "behaviours.json")))}
    for how in ("both", "both_nosource"):
        traces = list(decoded(dirs[how], "exec_cot_S_train"))
        names = m["both"]["splits"]["programs"]["S_train"]
        named = [[n for n in names if re.search(rf"\b{n}\b", text)] for text, _ in traces]
        assert all(len(n) == 1 for n in named)
        starts = [trained.startswith(sources[n[0]]) for n, (_, trained) in zip(named, traces)]
        assert all(starts) if how == "both" else not any(starts)
    for how in ("direct", "cot", "both_nosource"):
        same = {f for f in m["both"]["files"] if m["both"]["files"][f] == m[how]["files"][f]}
        assert {"tokenizer.tiktoken", "pretrain.tokens.npy", "decl_S_eval.tokens.npy"} <= same
        assert all(f in same for f in m["both"]["files"] if f.startswith("eval."))
    assert default_max_new_tokens(m["both_nosource"], "cot") >= default_max_new_tokens(m["both"], "cot")
    for bad in ('"implicit"', '"direct"\ndomains = ["programs", "grammars"]', '"cot"\ncot_internalise = [1]'):
        (tmp_path / "corpus_bad.py").write_text(base + f's_train_execs = {bad}\n')
        with pytest.raises(ValueError, match="s_train_execs must be one of"):
            load_config(str(tmp_path / "corpus_bad.py"))


def test_fact_documents_state_the_pool_functions_and_leave_the_rest_of_the_corpus_alone(tmp_path):
    """recall_fact_docs: each recall_pool function (and no other) gets that many fact documents in `pretrain`, every
    form of templates.FACTS filled with its own parts (the stated expression run against its source here); the
    tokenizer, pretrain_replay, curriculum mixtures and eval items hash as without them; bad settings are refused."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 1.0}\narith_max_statements = 2\n'
                                'arith_if_prob = 0.0\nrecall_pool = 5\nrecall_pool_val = 2\n')
    a, b, ma, mb = corpus_pair(tmp_path, base, "recall_fact_docs = 12\n")
    changed = {f for f in ma["files"] if ma["files"][f] != mb["files"][f]}
    assert changed and all(f.split(".")[0] == "pretrain" for f in changed), changed
    assert mb["mixtures"]["pretrain"]["docs"] == ma["mixtures"]["pretrain"]["docs"] + 5 * 12
    assert mb["tokenizer"] == ma["tokenizer"]
    behs = behaviours(b)
    pool = {n for n, x in behs.items() if x["split"] == "recall_pool"}
    facts = (collections.Counter(t for _, t in decoded(b, "pretrain"))
             - collections.Counter(t for _, t in decoded(a, "pretrain"))).elements()
    named = collections.defaultdict(list)
    for t in facts:
        who = [n for n in behs if re.search(rf"\b{n}\b", t)]
        assert len(who) == 1 and who[0] in pool, t
        named[who[0]].append(t.removesuffix("<|eos|>"))
    assert sorted(named) == sorted(pool) and all(len(v) == 12 for v in named.values())
    for name, texts in named.items():
        assert len(set(texts)) == 10  # ten forms, cycled: every one of them in twelve documents
        ns = {}
        exec(behs[name]["source"], ns)
        for t in texts:
            m = re.search(r"return \((.*)\) % (\d+)", t)
            if m:
                assert [eval(f"({m[1]}) % {m[2]}", {"x": x}) for x in range(10)] == [ns[name](x) for x in range(10)]
    for bad in ("-1", "3\narith_if_prob = 0.5", "3\nrecall_pool = 0"):
        (tmp_path / "corpus_c.py").write_text(base + f"recall_fact_docs = {bad}\n")
        with pytest.raises(ValueError, match="recall_fact_docs must be"):
            load_config(str(tmp_path / "corpus_c.py"))


def test_s_train_extra_alone_draws_the_same_extra_functions_with_and_without_s_eval_extra(tmp_path, monkeypatch):
    """s_train_extra_alone: with s_eval_extra set, the extra S_train functions and their documents are those drawn
    without it, while the S_eval functions are those drawn without s_train_extra (so that corpora differing in one
    of the two pair on the other); without the key they are another draw; a name clash fails in one line."""
    base = open(TINY).read() + ('domains = ["programs"]\nprogram_families = {"arith": 1.0, "compose": 0.5}\n'
                                's_train_extra_families = {"arith": 0.5, "compose": 0.5}\n'
                                'arith_inputs = [0, 4]\neval_inputs = 3\nseed = 1\n')  # few training inputs: some
    # compositions become plain functions (make_behaviours), from an rng the s_eval_extra ones draw from first

    def made(extra):
        (tmp_path / "c.py").write_text(base + extra)
        cfg = load_config(str(tmp_path / "c.py"))[1]
        behs = build.make_behaviours(cfg, cfg["seed"])
        docs = build.make_docs(behs, cfg, cfg["seed"])
        return ({(b.split, b.name, b.obj.source) for b in behs if b.extra and b.split == split}
                for split in ("S_train", "S_eval")), docs

    (train_alone, _), docs_alone = made("s_train_extra = 6\n")
    (_, eval_alone), _ = made("s_eval_extra = 5\n")
    (train_both, eval_both), docs_both = made("s_train_extra = 6\ns_eval_extra = 5\ns_train_extra_alone = True\n")
    assert len(train_alone) == 6 and len(eval_alone) == 5
    assert train_both == train_alone and eval_both == eval_alone
    names = {n for _, n, _ in train_alone}
    for mix in ("decl_S_train", "exec_S_train", "exec_cot_S_train"):
        texts = lambda docs: sorted("".join(t for t, _ in d.segments) for d in docs[mix] if d.name in names)
        assert texts(docs_both) == texts(docs_alone) and texts(docs_alone)
    (train_redrawn, _), _ = made("s_train_extra = 6\ns_eval_extra = 5\n")
    assert train_redrawn != train_alone  # the default: drawn after the S_eval extras, other functions
    # the S_train extras' fallbacks draw from a copy: whatever comes after them (here depth-3 compositions over the
    # S_eval functions, some of which become plain functions) draws as without s_train_extra_alone
    depth3 = 's_train_extra = 4\ns_train_extra_families = {"arith": 1.0}\ns_eval_extra = 8\ns_eval_depth3 = 8\n'
    (_, eval_plain), _ = made(depth3)
    (_, eval_kept), _ = made(depth3 + "s_train_extra_alone = True\n")
    assert len(eval_plain) == 16 and eval_kept == eval_plain
    monkeypatch.setattr(build, "fresh_names", lambda rng, used, n: [f"fn{i}" for i in range(n)])
    with pytest.raises(format.CorpusError, match=r"s_train_extra_alone: the extra S_train functions \['fn0'"):
        made("s_train_extra = 6\ns_eval_extra = 5\ns_train_extra_alone = True\n")
