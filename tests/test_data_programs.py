import random

from data.config import DEFAULTS, validate
from data.names import make_names
from data.programs import Arith, Cipher, check_against_source, make_programs, rare_inputs, run_source

CFG = dict(DEFAULTS, arith_max_statements=4, arith_if_prob=0.5, cipher_letters=8, cipher_len=4)


def test_names_unique_pronounceable_and_never_prefixes():
    names = make_names(random.Random(1), 5000)
    assert len(set(names)) == len(names)
    s = sorted(names)
    assert not any(b.startswith(a) for a, b in zip(s, s[1:]))
    assert all(len(n) == 6 and all((c in "aeiou") == (i % 2 == 1) for i, c in enumerate(n)) for n in names)


def test_source_execution_equals_recorded_outputs_for_thousands_of_behaviours():
    rng = random.Random(0)
    progs = make_programs(rng, make_names(rng, 3000),
                          dict(CFG, program_families={"arith": 1, "cipher": 1, "compose": 1}))
    assert {p.family for p in progs} == {"arith", "cipher", "compose"}
    assert {p.kind for p in progs if p.family == "cipher"} == {"shift", "affine", "subst"}
    for p in progs:
        xs = p.inputs()
        check_against_source(p, xs if len(xs) <= 20 else rng.sample(xs, 20))


def test_arith_spans_the_grammar_and_trace_ends_with_the_answer():
    rng = random.Random(2)
    progs = [Arith(f"f{i}", rng, CFG) for i in range(500)]
    assert {op for p in progs for op, _ in p.steps} == {"+", "-", "*", "//", "%"}
    assert {len(p.steps) for p in progs} == {1, 2, 3, 4} and any(p.cond for p in progs)
    assert any("if y >" in p.source for p in progs)
    for p in progs[:100]:
        for x in p.inputs():
            assert p.trace(x)[-1].endswith(f"= {run_source(p, x)}") and 0 <= p.run(x) < CFG["arith_mod"]


def test_cipher_trace_spells_the_output_and_description_differs_from_source():
    rng = random.Random(3)
    for i in range(300):
        c = Cipher(f"c{i}", rng, CFG)
        x = c.sample_input(rng)
        assert "".join(line.rstrip("'")[-1] for line in c.trace(x)) == run_source(c, x)
        assert c.description != c.source and c.name in c.description and "def" not in c.description


def test_generation_is_deterministic_from_seed():
    a = [p.full_source() for p in make_programs(random.Random(7), make_names(random.Random(7), 200), CFG)]
    b = [p.full_source() for p in make_programs(random.Random(7), make_names(random.Random(7), 200), CFG)]
    c = [p.full_source() for p in make_programs(random.Random(8), make_names(random.Random(7), 200), CFG)]
    assert a == b and a != c


def test_skewed_inputs_favour_low_values():
    rng = random.Random(4)
    p = Arith("f", rng, CFG)
    uni = [p.sample_input(rng) for _ in range(3000)]
    skew = [p.sample_input(rng, "skewed") for _ in range(3000)]
    assert set(uni) == set(range(0, 10)) and sum(uni) / 3000 > 4
    assert sum(skew) / 3000 < 2.8 and max(skew) > 5  # skewed, but the whole range keeps some mass


def test_every_composition_has_a_training_input_that_shows_no_held_out_input():
    """f = g(h(x)) shows g on h(x): h must have enough distinct outputs to steer clear of g's held-out inputs."""
    from data.build import make_behaviours
    from data.config import validate
    cfg = validate({"domains": ["programs"], "program_families": {"arith": 0.5, "compose": 0.5},
                    "n_behaviours": {"pretrain": 1, "pretrain_val": 1, "S_train": 400, "S_eval": 400,
                                     "S_control": 400}})
    behs = make_behaviours(cfg, 0)
    assert sum(b.family == "compose" for b in behs) > 300
    rng = random.Random(0)
    for b in behs:
        b.example(rng)  # raises when every training input would show an evaluation input


def test_rare_inputs_are_the_half_the_skew_makes_rarest():
    rng = random.Random(5)
    a, c = Arith("f", rng, CFG), Cipher("g", rng, dict(CFG, cipher_letters=3, cipher_len=2))
    assert rare_inputs(a) == [5, 6, 7, 8, 9]
    # a word's skewed probability is 0.7 ** (sum of its letter indices): the rare half has the largest sums
    score = lambda w: sum("abc".index(ch) for ch in w)
    rare = rare_inputs(c)
    assert len(rare) == 5 and min(map(score, rare)) >= max(score(w) for w in c.inputs() if w not in rare)


def test_ood_corpus_evaluates_on_rare_inputs_and_trains_on_skewed_ones(tmp_path):
    """eval_input_dist='tail': every held-out input lies in the rare half; trained executions stay skewed."""
    import json
    import os

    from data import build
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = tmp_path / "corpus_ood.py"
    p.write_text(open(os.path.join(repo, "configs", "corpus_tiny.py")).read()
                 + 'domains = ["programs"]\nprogram_families = {"arith": 1.0}\ntrain_input_dist = "skewed"\n'
                   'eval_input_dist = "tail"\n')
    d = build.ensure_corpus(str(p), str(tmp_path / "c"))
    behs = json.load(open(os.path.join(d, "behaviours.json")))
    held = [x for b in behs if b["split"] in ("S_train", "S_eval", "S_control") for x in b["eval_inputs"]]
    assert held and all(x >= 5 for x in held)
    items = [json.loads(line) for line in open(os.path.join(d, "eval.programs.S_eval.cot.jsonl"))]
    assert items and all(it["input"] >= 5 for it in items)
    xs = [json.loads(line)["input"] for line in open(os.path.join(d, "rl.programs.S_train.jsonl"))]
    assert sum(xs) / len(xs) < 2.5  # skewed training inputs, and the held-out rare ones excluded
    import pytest
    with pytest.raises(ValueError, match="rarer half"):
        validate({"eval_input_dist": "tail", "eval_inputs": 6})
