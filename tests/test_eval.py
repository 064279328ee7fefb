"""eval.py: Wilson intervals, accuracy/validity/distinct equal to hand counts, batched generation equal to
one-by-one generation, tokenizer mismatch refused, eval.json rows in the agreed format."""
import json
import os

import pytest
import torch

import eval as ev
from data.build import EVAL_SPLITS, MODES, ensure_corpus, load_grammars, load_instructions, load_trained_strings
from data.format import open_corpus
from data.grammars import Grammar
from data.tokenizer import load as load_tokenizer
from model import GPT
from pbb import checkpoint
from pbb import evaluate as evaluate_module
from pbb.checkpoint import save_checkpoint
from pbb.config import DEFAULTS, model_config
from pbb.evaluate import ROW_KEYS, callee_parts, callees_restated, evaluate, generate_texts, judge, wilson

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=320)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return ensure_corpus(os.path.join(ROOT, "configs", "corpus_tiny.py"), str(tmp_path_factory.mktemp("c") / "tiny"))


def save_ckpt(path, corpus, tokenizer_id=None, **overrides):
    manifest = open_corpus(corpus)
    config = dict(DEFAULTS, data_dir=corpus, vocab_size=manifest["vocab_size"], seed=7,
                  out_dir=str(path.parent), **SMALL, **overrides)
    torch.manual_seed(0)
    model = GPT(model_config(config))
    os.makedirs(path.parent, exist_ok=True)
    save_checkpoint(str(path), {"model": model.state_dict(), "config": config, "step": 0,
                                      "tokenizer_id": tokenizer_id or checkpoint.tokenizer_id(manifest)})
    return str(path)


def test_wilson_known_values():
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)  # closed form at k = 0: upper = z^2 / (n + z^2)
    assert lo == 0.0 and hi == pytest.approx(1.959964 ** 2 / (10 + 1.959964 ** 2))
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(0, 0) == (0.0, 1.0)


def fake_generate(corpus, right_programs, valid_grammars, calls, recalled=None, fixed=None):
    """A stand-in for GPT.generate: answers correctly exactly for the programs in `right_programs`, and
    for grammars in `valid_grammars` alternates between two different valid strings; everything else
    gets a wrong/invalid answer. CoT traces restate the exact instruction for the programs in `recalled`
    (default: right_programs). fixed: {grammar: the answer it always gets} (before all else)."""
    recalled = right_programs if recalled is None else recalled
    enc = load_tokenizer(corpus)
    items = {}
    for f in os.listdir(corpus):
        if f.startswith("eval."):
            for line in open(os.path.join(corpus, f)):
                it = json.loads(line)
                assert items.setdefault(it["prompt"], it) is it or it["domain"] == "grammars"
    grammars = load_grammars(corpus)
    instructions = load_instructions(corpus)
    counter = [0]

    def generate(self, prompts, max_new_tokens, temperature=1.0, top_k=None, stop_token=None, generator=None, **kw):
        assert max(map(len, prompts)) + max_new_tokens - 1 <= self.config.block_size
        out = []
        for p in prompts:
            it = items[enc.decode(p[1:])]
            calls.append((it["domain"], temperature))
            if it["domain"] == "programs":
                ans = it["answer"] if it["behaviour"] in right_programs else "'wrong'"
            elif it["grammar"] in (fixed or {}):
                ans = fixed[it["grammar"]]
            elif it["grammar"] in valid_grammars:
                counter[0] += 1
                ans = " ".join(sorted(grammars[it["grammar"]].language())[counter[0] % 2])
            else:
                ans = "not a sentence"
            trace = instructions[it["behaviour"]] if it.get("behaviour") in recalled else "some trace\n"
            text = f"{trace}answer: {ans}" if it["mode"] == "cot" else f" {ans}\nmore text"
            out.append(enc.encode_ordinary(text))
        return out
    return generate


def test_accuracy_validity_distinct_equal_hand_counts(corpus, tmp_path, monkeypatch):
    splits = open_corpus(corpus)["splits"]
    right = splits["programs"]["S_eval"][:2] + splits["programs"]["S_train"][:1]
    valid = splits["grammars"]["S_eval"][:1]
    calls = []
    recalled = splits["programs"]["S_eval"][1:4]  # one right answer without the trace, two traces without it
    monkeypatch.setattr(GPT, "generate", fake_generate(corpus, right, valid, calls, recalled))
    ckpt = save_ckpt(tmp_path / "myrun" / "ckpt.pt", corpus)
    rows = evaluate(ckpt, samples=4, progress=False, log=None)
    get = {(r["domain"], r["split"], r["mode"], r["metric"]): r for r in rows}
    # corpus_tiny: 6 S_eval / 6 S_train / 4 S_control behaviours per domain, 3 eval prompts each.
    for mode in MODES:
        r = get["programs", "S_eval", mode, "accuracy"]
        assert (r["value"], r["n"]) == (6 / 18, 18)  # 2 behaviours x 3 inputs right
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(6, 18))
        assert (get["programs", "S_train", mode, "accuracy"]["value"],
                get["programs", "S_train", mode, "accuracy"]["n"]) == (3 / 18, 18)
        assert (get["programs", "S_control", mode, "accuracy"]["value"],
                get["programs", "S_control", mode, "accuracy"]["n"]) == (0.0, 12)
        r = get["grammars", "S_eval", mode, "validity"]
        assert (r["value"], r["n"]) == (12 / 72, 72)  # 1 grammar x 3 prompts x 4 samples valid
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(12, 72))
        assert (get["grammars", "S_eval", mode, "distinct"]["value"],
                get["grammars", "S_eval", mode, "distinct"]["n"]) == (2 / 72, 72)
        assert get["grammars", "S_train", mode, "validity"]["value"] == 0.0
    items = [json.loads(line) for line in open(os.path.join(corpus, "eval.programs.S_eval.cot.jsonl"))]
    fams = {it["family"] for it in items}
    assert len(fams) > 1
    for fam in fams:  # a split of several families: each family's accuracy, counted by hand
        mine = [it for it in items if it["family"] == fam]
        r = get["programs", f"S_eval/{fam}", "cot", "accuracy"]
        assert (r["value"], r["n"]) == (sum(it["behaviour"] in right for it in mine) / len(mine), len(mine))
        r = get["programs", f"S_eval/{fam}", "cot", "majority_baseline"]
        top = max(sum(it["answer"] == a for it in mine) for a in {it["answer"] for it in mine})
        assert (r["value"], r["n"]) == (top / len(mine), len(mine))
        r = get["programs", f"S_eval/{fam}", "cot", "instruction_recall"]
        assert (r["value"], r["n"]) == (sum(it["behaviour"] in recalled for it in mine) / len(mine), len(mine))
    r = get["programs", "S_eval", "cot", "instruction_recall"]
    assert ((r["value"], r["n"]) == (9 / 18, 18)
            and get["programs", "S_control", "cot", "instruction_recall"]["value"] == 0.0)
    assert {mode for (_, _, mode, metric) in get if metric == "instruction_recall"} == {"cot"}
    assert wilson(6, 18) == pytest.approx((0.1628, 0.5625), abs=1e-4)  # hand computed
    assert {t for d, t in calls if d == "programs"} == {0.0} and {t for d, t in calls if d == "grammars"} == {1.0}
    assert sum(d == "grammars" for d, _ in calls) == 4 * 3 * (18 + 18 + 12)


def test_eval_json_rows(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(GPT, "generate", fake_generate(corpus, [], [], []))
    ckpt = save_ckpt(tmp_path / "proactive" / "ckpt.pt", corpus)
    evaluate(ckpt, splits=["S_eval", "S_control"], modes=["implicit"], samples=2, progress=False, log=None)
    rows = json.load(open(tmp_path / "proactive" / "eval.json"))
    assert all(tuple(r) == ROW_KEYS for r in rows)
    assert {r["curriculum"] for r in rows} == {"proactive"} and {r["seed"] for r in rows} == {7}
    families = {s: {json.loads(line)["family"]
                    for line in open(os.path.join(corpus, f"eval.programs.{s}.implicit.jsonl"))}
                for s in ("S_eval", "S_control")}
    assert len(families["S_eval"]) > 1  # so that the per-family rows below are tested
    assert {(r["domain"], r["split"], r["metric"]) for r in rows} == {
        (d, s, m) for s in ("S_eval", "S_control")
        for d, m in [("programs", "accuracy"), ("programs", "majority_baseline"), ("grammars", "validity"),
                     ("grammars", "distinct"), ("grammars", "novelty"), ("grammars", "constant_baseline"),
                     ("grammars", "cross_grammar_baseline")]} | {
        ("programs", f"{s}/{fam}", m) for s, fams in families.items() if len(fams) > 1 for fam in fams
        for m in ("accuracy", "majority_baseline")}
    assert {r["mode"] for r in rows} == {"implicit"}
    info = open_corpus(corpus)["eval_files"]["eval.programs.S_eval.implicit.jsonl"]
    base = next(r for r in rows if r["metric"] == "majority_baseline" and r["split"] == "S_eval")
    assert (base["value"], base["n"]) == (info["majority_accuracy"], info["items"])
    assert base["ci_low"] < base["value"] < base["ci_high"]
    evaluate(ckpt, splits=["S_eval"], modes=["cot"], domains=["programs"], curriculum="retro", progress=False,
                log=None, out_path=str(tmp_path / "other.json"))
    assert {r["curriculum"] for r in json.load(open(tmp_path / "other.json"))} == {"retro"}


def test_novelty_counts_valid_strings_no_training_document_shows():
    g = Grammar("g", {"S": [("a", "b"), ("a", "c"), ("S", "b")]})
    items = [{"grammar": "g", "prompt": "p"}, {"grammar": "g", "prompt": "q"}]
    texts = [" a b\nmore", " a  b", " a c c", " a b b", " x", " a c"]  # 3 samples per item; "a c c", "x" invalid
    scores, _, per_item = judge("grammars", items, texts, "implicit", 3, {"g": g}, trained={"g": {"a b"}})
    assert dict(scores) == {"validity": 4, "distinct": 3, "novelty": 2} and per_item == [2 / 3, 2 / 3]  # "a b b", "a c"
    assert "novelty" not in dict(judge("grammars", items, texts, "implicit", 3, {"g": g}, trained={})[0])


def test_novelty_and_exact_baselines_in_the_rows(corpus, tmp_path, monkeypatch):
    """S_train: one grammar always answers a string its training documents show, another one they do not; S_control
    (nothing trained) a valid string. The baselines are recounted with the recognizer."""
    splits, grammars, trained = (open_corpus(corpus)["splits"]["grammars"], load_grammars(corpus),
                                 load_trained_strings(corpus))
    behs = {b["name"]: b for b in json.load(open(os.path.join(corpus, "behaviours.json")))}
    assert all(trained[n] == set(behs[n]["trained_strings"]) for n in grammars)
    shown = next(n for n in splits["S_train"] if trained[n])
    new = next(n for n in splits["S_train"]
               if n != shown and {" ".join(w) for w in grammars[n].language()} - trained[n])
    fixed = {shown: sorted(trained[shown])[0],
             new: sorted({" ".join(w) for w in grammars[new].language()} - trained[new])[0],
             splits["S_control"][0]: " ".join(sorted(grammars[splits["S_control"][0]].language())[0])}
    monkeypatch.setattr(GPT, "generate", fake_generate(corpus, [], [], [], fixed=fixed))
    rows = evaluate(save_ckpt(tmp_path / "r" / "ckpt.pt", corpus), domains=["grammars"], samples=2, progress=False,
                    log=None)
    get = {(r["split"], r["mode"], r["metric"]): r for r in rows}
    for mode in MODES:
        assert get["S_train", mode, "validity"]["value"] == 2 * 3 * 2 / 36
        assert (get["S_train", mode, "novelty"]["value"], get["S_train", mode, "novelty"]["n"]) == (3 * 2 / 36, 36)
        assert get["S_control", mode, "novelty"]["value"] == get["S_control", mode, "validity"]["value"] == 3 * 2 / 24
        assert get["S_eval", mode, "novelty"]["value"] == 0.0
    for split in EVAL_SPLITS:
        gs = [grammars[n] for n in splits[split]]
        cands = {" ".join(w) for g in gs for w in g.language()}
        constant = max(sum(g.is_valid(w) for g in gs) for w in cands) / len(gs)
        cross = [sum(g.is_valid(" ".join(w)) for w in h.language()) / len(h.language())
                 for g in gs for h in gs if h is not g]
        for mode in MODES:
            for metric, value in (("constant_baseline", constant), ("cross_grammar_baseline", sum(cross) / len(cross))):
                r = get[split, mode, metric]
                assert (r["value"] == pytest.approx(value) and r["ci_low"] == r["ci_high"] == r["value"]
                        and r["n"] == len(gs))
    assert max(get[s, "cot", "constant_baseline"]["value"] for s in EVAL_SPLITS) > 0  # the checks can fail
    monkeypatch.setattr(evaluate_module, "load_trained_strings", lambda d: {})  # a corpus built before trained_strings
    rows = evaluate(save_ckpt(tmp_path / "r" / "ckpt.pt", corpus), domains=["grammars"], samples=1, progress=False,
                    log=None)
    assert {r["metric"] for r in rows} == {"validity", "distinct", "constant_baseline", "cross_grammar_baseline"}


def test_trained_strings_of_an_old_corpus(tmp_path):
    (tmp_path / "behaviours.json").write_text(json.dumps([{"name": "g", "domain": "grammars", "grammar": {}}]))
    assert load_trained_strings(str(tmp_path)) == {}


def test_majority_baseline_is_a_recount_of_the_eval_items(corpus, tmp_path, monkeypatch):
    """Independent of the builder's summary: the most common `answer` of each eval file, counted here."""
    monkeypatch.setattr(GPT, "generate", fake_generate(corpus, [], [], []))
    rows = evaluate(save_ckpt(tmp_path / "r" / "ckpt.pt", corpus), domains=["programs"], progress=False, log=None)
    base = {(r["split"], r["mode"]): r for r in rows if r["metric"] == "majority_baseline" and "/" not in r["split"]}
    assert set(base) == {(s, m) for s in ("S_train", "S_eval", "S_control") for m in MODES}
    manifest = open_corpus(corpus)
    for (split, mode), r in base.items():
        name = f"eval.programs.{split}.{mode}.jsonl"
        answers = [json.loads(line)["answer"] for line in open(os.path.join(corpus, name))]
        top = max(answers.count(a) for a in set(answers))
        assert 1 < top < len(answers), name  # corpus_tiny has a real majority in every file: the check can fail
        assert (r["value"], r["n"]) == (top / len(answers), len(answers)), name
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(top, len(answers)))
        assert manifest["eval_files"][name]["majority_accuracy"] == top / len(answers)
        assert answers.count(manifest["eval_files"][name]["majority_answer"]) == top


def test_batched_generation_equals_one_by_one(corpus):
    enc = load_tokenizer(corpus)
    torch.manual_seed(1)
    model = GPT(model_config(dict(DEFAULTS, vocab_size=enc.n_vocab, n_layer=2, n_head=2, n_embd=16,
                                        block_size=24))).double().eval()
    prompts = ["f(3) =", "Here is the grammar g:", "x", "a b c d e f g h", "Q: what does ab(1) return? A:",
               " ".join(["word"] * 30)]  # the last prompt does not fit block_size
    eos = enc._special_tokens["<|eos|>"]
    batched, skipped = generate_texts(model, enc, prompts, 8, 0.0, 3, eos)
    alone = [generate_texts(model, enc, [p], 8, 0.0, 1, eos)[0][0] for p in prompts]
    assert batched == alone and skipped == 1 and batched[-1] == ""
    assert all(batched[:-1])


def test_tokenizer_mismatch_is_one_line(corpus, tmp_path, capsys):
    ckpt = save_ckpt(tmp_path / "r" / "ckpt.pt", corpus, tokenizer_id="0" * 64)
    assert ev.main(["--ckpt", ckpt, "--no_progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "tokenizer" in err and "\n" not in err
    assert not os.path.exists(tmp_path / "r" / "eval.json")


@pytest.mark.parametrize("args, says", [(["--splits", "S_test"], "S_test"), (["--modes", "implicit,fast"], "fast"),
                                        (["--data_dir", "/nonexistent"], "does not exist")])
def test_bad_flags_are_one_line(corpus, tmp_path, capsys, args, says):
    ckpt = save_ckpt(tmp_path / "r" / "ckpt.pt", corpus)
    assert ev.main(["--ckpt", ckpt, "--no_progress", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err and "\n" not in err


def test_out_in_a_new_directory_is_created(corpus, tmp_path):
    ckpt = save_ckpt(tmp_path / "r" / "ckpt.pt", corpus)
    out = tmp_path / "new" / "seed0" / "mixture" / "eval.json"
    assert ev.main(["--ckpt", ckpt, "--no_progress", "--quiet", "--splits", "S_eval", "--modes", "implicit",
                    "--domains", "programs", "--out", str(out)]) == 0
    rows = json.load(open(out))
    assert rows and {r["split"].split("/")[0] for r in rows} == {"S_eval"}
    assert os.path.exists(out.parent / "eval_items.json")


def test_out_that_cannot_be_created_is_one_line_before_the_work(corpus, tmp_path, capsys):
    ckpt = save_ckpt(tmp_path / "r" / "ckpt.pt", corpus)
    (tmp_path / "file").write_text("")
    assert ev.main(["--ckpt", ckpt, "--no_progress", "--out", str(tmp_path / "file" / "eval.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--out" in err and "\n" not in err


def test_callee_recall_needs_f_then_h_then_g_restated():
    ins = {"f": "def f(x):\n    return g(h(x))\n", "g": "def g(x):\n    y = x + 1\n    return y % 10\n",
           "h": "def h(x):\n    y = x * 2\n    return y % 10\n", "k": "def k(x):\n    y = x * 3\n    return y % 10\n"}
    good = ins["f"] + ins["h"] + "x = 2\ny = 2 * 2 = 4\n4 % 10 = 4\n" + ins["g"] + "x = 4\n"
    assert callees_restated(good, "f", ins)
    assert not callees_restated(good.replace(ins["h"], ins["k"]), "f", ins)  # the wrong callee recalled
    assert not callees_restated(good.replace(ins["g"], ""), "f", ins)  # g never restated
    assert not callees_restated(ins["f"] + ins["g"] + ins["h"], "f", ins)  # in the wrong order
    assert not callees_restated(good, "g", ins)  # not a composition
    ins["d"] = "def d(x):\n    return g(h(k(x)))\n"  # depth 3: k, then h, then g, each restated in turn
    deep = ins["d"] + ins["k"] + "x = 2\n" + ins["h"] + "x = 6\n" + ins["g"] + "x = 2\n"
    assert callee_parts("d", ins) == ["k", "h", "g"] and callee_parts("f", ins) == ["h", "g"]
    assert callees_restated(deep, "d", ins) and not callees_restated(deep.replace(ins["h"], ""), "d", ins)
    assert not callees_restated(ins["d"] + ins["k"] + ins["g"] + ins["h"], "d", ins)  # h and g swapped


def test_callee_placement_places_each_failure(monkeypatch):
    """f = g(h(x)) with h(x) = 2x % 10 and g(x) = (x + 1) % 10: the callees are asked alone on the same input (h on
    x, g on h(x), from the item's prompt with the call swapped), and each wrong item is placed once."""
    import pbb.evaluate as E
    ins = {"f": "def f(x):\n    return g(h(x))\n", "g": "def g(x):\n    y = x + 1\n    return y % 10\n",
           "h": "def h(x):\n    y = x * 2\n    return y % 10\n", "k": "def k(x):\n    y = x * 3\n    return y % 10\n"}
    xs = (2, 3, 4, 6, 5)
    its = [{"behaviour": "f", "input": x, "prompt": f"print(f({x})) prints\ntrace:\n"} for x in xs]
    good = lambda x: ins["f"] + ins["h"] + f"x = {x}\n" + ins["g"] + f"x = {2 * x % 10}\n"
    texts = [good(2), good(3), good(4).replace(ins["h"], ins["k"]), good(6),
             good(5).replace("x + 1", "x + 2")]  # the last one names g but writes another body
    correct = [1.0, 0.0, 0.0, 0.0, 0.0]
    asked = []

    def fake_generate(model, enc, prompts, *a):
        asked.extend(prompts)  # h alone on each x, then g alone on each h(x): all right ...
        answers = [f"\nanswer: {2 * x % 10}" for x in xs] + [f"\nanswer: {(2 * x + 1) % 10}" for x in xs]
        answers[3] = "\nanswer: 0"  # ... but item 3's h
        return answers, 0

    monkeypatch.setattr(E, "generate_texts", fake_generate)
    out = E.callee_placement(None, None, its, texts, correct, ins, 64, 8, 0, None)
    assert asked == [f"print(h({x})) prints\ntrace:\n" for x in xs] + [f"print(g({m})) prints\ntrace:\n"
                                                                          for m in (4, 6, 8, 2, 0)]
    assert out["h_restated"] == [1, 1, 0, 1, 1] and out["g_named"] == [1, 1, 0, 1, 1]
    assert out["g_restated"] == out["chain_input"] == [1, 1, 0, 1, 0]
    assert out["h_alone"] == [1, 1, 1, 0, 1] and out["g_alone"] == [1, 1, 1, 1, 1]
    assert out["fail_lookup"] == [0, 0, 1, 0, 1] and out["fail_execution"] == [0, 0, 0, 1, 0]
    assert out["fail_chaining"] == [0, 1, 0, 0, 0]


def test_callee_placement_names_what_the_trace_writes_instead_of_g(monkeypatch):
    """After h's part the trace writes g, another function of the corpus (k), or a name the corpus lacks (gq)."""
    import pbb.evaluate as E
    ins = {"f": "def f(x):\n    return g(h(x))\n", "g": "def g(x):\n    y = x + 1\n    return y % 10\n",
           "h": "def h(x):\n    y = x * 2\n    return y % 10\n", "k": "def k(x):\n    y = x * 3\n    return y % 10\n"}
    its = [{"behaviour": "f", "input": 2, "prompt": "print(f(2)) prints\ntrace:\n"}] * 4
    head = ins["f"] + ins["h"] + "x = 2\n"
    texts = [head + ins["g"] + "x = 4\n", head + ins["k"] + "x = 4\n",
             head + ins["g"].replace("def g(", "def gq(") + "x = 4\n", ins["f"] + ins["k"]]
    monkeypatch.setattr(E, "generate_texts", lambda model, enc, prompts, *a: (["\nanswer: 4"] * 4 + ["\nanswer: 5"] * 4,
                                                                              0))
    out = E.callee_placement(None, None, its, texts, [1.0, 0.0, 0.0, 0.0], ins, 64, 8, 0, None)
    assert out["g_named"] == [1, 0, 0, 0] and out["g_restated"] == [1, 0, 0, 0]
    assert out["g_other"] == [0, 1, 0, 0] and out["g_invented"] == [0, 0, 1, 0]  # h not restated: neither


def test_incontext_cot_is_the_incontext_prompt_with_the_cot_cue_judged_as_cot(corpus, tmp_path, monkeypatch):
    """Mode incontext_cot (on request, grammars only): each in-context prompt + COT_CUE, the answer read after the
    answer cue; a grammar answered validly after a trace counts, a direct answer without the cue does not."""
    from data.templates import COT_CUE
    enc, grammars = load_tokenizer(corpus), load_grammars(corpus)
    incontext = {json.loads(l)["prompt"]: json.loads(l)
                 for l in open(os.path.join(corpus, "eval.grammars.S_eval.incontext.jsonl"))}
    valid = sorted({it["grammar"] for it in incontext.values()})[:2]
    seen = []

    def generate(self, prompts, max_new_tokens, temperature=1.0, top_k=None, stop_token=None, generator=None, **kw):
        out = []
        for p in prompts:
            text = enc.decode(p[1:])
            seen.append(text)
            it = incontext[text[:-len(COT_CUE)]]
            word = " ".join(min(grammars[it["grammar"]].language()))
            out.append(enc.encode_ordinary(f"S -> x\nanswer: {word}" if it["grammar"] in valid else f" {word}"))
        return out
    monkeypatch.setattr(GPT, "generate", generate)
    ckpt = save_ckpt(tmp_path / "pretrain" / "ckpt.pt", corpus)
    rows = evaluate(ckpt, splits=["S_eval"], modes=["incontext_cot"], samples=2, progress=False, log=None)
    assert seen and all(t.endswith(COT_CUE) for t in seen) and len(seen) == 2 * len(incontext)
    get = {(r["domain"], r["mode"], r["metric"]): r for r in rows}
    assert {r["domain"] for r in rows} == {"grammars"}  # programs have no incontext_cot
    r = get["grammars", "incontext_cot", "validity"]
    # 2 grammars x 3 prompts x 2 samples
    assert (r["value"], r["n"]) == (2 * 3 * 2 / (2 * len(incontext)), 2 * len(incontext))
