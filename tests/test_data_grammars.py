import hashlib
import itertools
import json
import random

import pytest

from data.config import DEFAULTS, validate
from data.grammars import Grammar, constant_baseline, cross_grammar_baseline, random_grammar

TINY = dict(DEFAULTS, grammar_nonterminals=3, grammar_terminals=2, grammar_max_len=5, grammar_min_strings=3)
# recursive grammars small enough to check every string over their terminals with the recognizer
REC_TINY = dict(DEFAULTS, grammar_recursive=True, grammar_terminals=2, grammar_max_len=7, grammar_min_len=2,
                grammar_min_strings=5, grammar_max_strings=60)
REC = dict(DEFAULTS, grammar_recursive=True, grammar_max_len=12, grammar_min_len=3, grammar_min_strings=200)


def brute_force(g, max_len):
    """Every string up to max_len that some derivation produces, by breadth-first expansion of sentential forms."""
    found, forms = set(), {(g.start,)}
    while forms:
        nxt = set()
        for f in forms:
            i = next((i for i, s in enumerate(f) if g.is_nt(s)), None)
            if i is None:
                found.add(f)
                continue
            for alt in g.rules[f[i]]:
                new = f[:i] + alt + f[i + 1:]
                if sum(not g.is_nt(s) for s in new) <= max_len and len(new) <= 2 * max_len + 2:
                    nxt.add(new)
        forms = nxt
    return found


def test_random_grammars_meet_their_guarantees_and_every_sample_parses():
    rng = random.Random(0)
    for i in range(200):
        g = random_grammar(f"g{i}", rng, DEFAULTS)
        lang = g.language()
        assert len(lang) >= DEFAULTS["grammar_min_strings"] and g.max_len() <= DEFAULTS["grammar_max_len"]
        for _ in range(20):
            words, forms = g.sample(rng)
            assert tuple(words) in lang and g.recognize(words) and g.is_valid(" ".join(words))
            assert forms[0] == "S" and forms[-1] == " ".join(words)


def test_recognizer_agrees_with_enumeration_on_tiny_grammars():
    rng = random.Random(1)
    for i in range(60):
        g = random_grammar(f"t{i}", rng, TINY)
        lang, terms = g.language(), g.terminals()
        assert lang == brute_force(g, TINY["grammar_max_len"])
        for n in range(0, TINY["grammar_max_len"] + 2):
            for w in itertools.product(terms, repeat=n):
                assert g.recognize(w) == (w in lang), (g.render(), w)


def test_recognizer_on_a_recursive_grammar():
    g = Grammar("bal", {"S": [("a", "S", "b"), ("a", "b"), ("S", "S")]})
    balanced = lambda w: (all(w[:k].count("a") >= w[:k].count("b") for k in range(len(w) + 1))
                          and w.count("a") == w.count("b"))
    for n in range(1, 9):
        for w in itertools.product("ab", repeat=n):
            assert g.recognize(w) == balanced("".join(w)), w


def test_random_strings_are_mostly_rejected():
    rng = random.Random(2)
    accepted = total = 0
    for i in range(50):
        g = random_grammar(f"g{i}", rng, DEFAULTS)
        terms = g.terminals()
        for _ in range(100):
            n = rng.randint(1, DEFAULTS["grammar_max_len"])
            accepted += g.recognize([rng.choice(terms) for _ in range(n)])
            total += 1
    assert accepted / total < 0.2
    assert 0 < g.chance_validity() < 0.5


def test_render_and_json_round_trip():
    g = random_grammar("gx", random.Random(3), DEFAULTS)
    h = Grammar.from_json(g.to_json())
    assert h.render() == g.render() and h.language() == g.language()
    assert g.render().splitlines()[0].startswith("S -> ")


def test_a_loaded_grammar_renders_the_trained_instruction(tmp_path):
    import json
    import os

    from data.build import ensure_corpus, load_grammars
    d = ensure_corpus(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                                   "corpus_tiny.py"), str(tmp_path / "tiny"))
    behaviours = [b for b in json.load(open(os.path.join(d, "behaviours.json"))) if b["domain"] == "grammars"]
    grammars = load_grammars(d)
    assert behaviours and all(grammars[b["name"]].render() == b["instruction"] for b in behaviours)
    # order matters
    assert any(list(grammars[b["name"]].rules) != sorted(grammars[b["name"]].rules) for b in behaviours)


def recognized(g, terms, max_len):
    """Every string over `terms` of at most max_len terminals that the recognizer accepts."""
    return {w for n in range(1, max_len + 1) for w in itertools.product(terms, repeat=n) if g.recognize(w)}


def test_non_recursive_grammars_are_as_before():
    """Grammars, samples and chance_validity of the default config, pinned from the code before grammar_recursive,
    grammar_min_len and the length-bounded language existed: corpora of old configs stay byte-identical."""
    h, rng = hashlib.sha256(), random.Random(5)
    for i in range(300):
        g = random_grammar(f"g{i}", rng, DEFAULTS)
        h.update(json.dumps(g.to_json()).encode())
        for _ in range(5):
            h.update(repr(g.sample(rng, DEFAULTS["grammar_max_len"])).encode())
        h.update(repr(g.chance_validity(DEFAULTS["grammar_max_len"])).encode())
    assert h.hexdigest() == "b0ef1a454ba1267022033d56c0f26f3f12e9adac4626d065f511821fb6c8f588"


def test_left_recursion_and_unit_cycles():
    g = Grammar("left", {"S": [("S", "a"), ("b",)]})
    for n in range(1, 8):
        for w in itertools.product("ab", repeat=n):
            assert g.recognize(w) == (w == ("b",) + ("a",) * (n - 1)), w
    assert g.language(6) == {("b",) + ("a",) * k for k in range(6)} == recognized(g, "ab", 6)
    # mutual left recursion and a unit cycle S -> A -> S
    g = Grammar("mutual", {"S": [("A", "a"), ("A",), ("c",)], "A": [("S", "b"), ("S",)]})
    assert g.language(6) == recognized(g, "abc", 6) and len(g.language(6)) > 20


# corpus_grammars.py's
RIGHT = dict(REC, grammar_right_linear=True, grammar_max_rhs=2, grammar_nt_prob=0.7, grammar_max_len=10)


# the second: unproductive ones are common
@pytest.mark.parametrize("cfg", [REC, dict(REC_TINY, grammar_nt_prob=0.8), RIGHT])
def test_recursive_grammars_meet_their_guarantees(cfg):
    rng, lengths, recursive, m = random.Random(4), set(), 0, cfg["grammar_max_len"]
    for i in range(100):
        g = random_grammar(f"r{i}", rng, cfg)
        lang, short = g.language(m), g.shortest()
        assert cfg["grammar_min_strings"] <= len(lang) <= cfg["grammar_max_strings"]
        assert g.reachable() == set(g.rules) and max(short.values()) < float("inf")  # reachable, productive
        assert short["S"] == min(map(len, lang)) >= cfg["grammar_min_len"]
        assert not any(len(a) == 1 and g.is_nt(a[0]) for alts in g.rules.values() for a in alts)  # no A -> B
        assert g.count_trees(m) >= len(lang)
        for _ in range(10):
            words, forms = g.sample(rng, m)
            assert cfg["grammar_min_len"] <= len(words) <= m and tuple(words) in lang
            assert g.recognize(words) and forms[0] == "S" and forms[-1] == " ".join(words)
            assert all(len(f.split()) <= m for f in forms)
            lengths.add(len(words))
        order = list(g.rules)  # an alternative of X that uses X or an earlier nonterminal
        recursive += any(g.is_nt(s) and order.index(s) <= order.index(x)
                         for x, alts in g.rules.items() for a in alts for s in a)
    assert recursive > 50 and m in lengths


def test_recursive_language_equals_the_recognized_strings():
    """language(max_len), by dynamic programming, against every string over the terminals judged by the
    Earley recognizer; and the sampler only ever restarts on, never returns, a string past max_len."""
    rng = random.Random(5)
    for i in range(40):
        g = random_grammar(f"r{i}", rng, REC_TINY)
        for m in (3, REC_TINY["grammar_max_len"]):
            assert g.language(m) == recognized(g, g.terminals(), m), g.render()
        assert g.count_trees(5) >= len(g.language(5))
        assert min(map(len, g.language(7))) >= REC_TINY["grammar_min_len"]
        if g.language(3):  # sample() never ends on an empty language
            assert all(tuple(g.sample(rng, 3)[0]) in g.language(3) for _ in range(20))


def test_count_trees_counts_every_derivation():
    g = Grammar("amb", {"S": [("S", "S"), ("a",)]})  # trees with n leaves: the Catalan number C(n-1)
    assert g.count_trees(6) == 1 + 1 + 2 + 5 + 14 + 42 and len(g.language(6)) == 6


def test_min_len_is_respected_and_validated():
    rng = random.Random(6)
    cfg = dict(DEFAULTS, grammar_min_len=3, grammar_max_len=9)
    for i in range(50):
        assert min(map(len, random_grammar(f"m{i}", rng, cfg).language())) >= 3
    with pytest.raises(ValueError, match="grammar_min_len"):
        validate({"grammar_min_len": 9, "grammar_max_len": 8})
    with pytest.raises(ValueError, match="grammar_recursive"):
        validate({"grammar_recursive": 1})


def brute_baselines(grammars, max_len):
    """Both baselines from the recognizer alone: every string over the grammars' terminals up to max_len."""
    terms = sorted({t for g in grammars for t in g.terminals()})
    strings = [w for n in range(1, max_len + 1) for w in itertools.product(terms, repeat=n)]
    accepts = [{w for w in strings if g.recognize(w)} for g in grammars]
    constant = max(sum(w in a for a in accepts) for w in strings) / len(grammars)
    pairs = [(a, b) for a in accepts for b in accepts if a is not b]
    cross = sum(sum(w in a for w in b) / len(b) for a, b in pairs) / len(pairs)
    return constant, cross


def test_baselines_by_hand_and_against_brute_force():
    hand = [Grammar("g", {"S": [("a",), ("b",)]}), Grammar("h", {"S": [("a",), ("c",)]}),
            Grammar("k", {"S": [("b", "b")]})]
    assert constant_baseline(hand, 4) == (2 / 3, "a")  # "a" is valid for g and h
    assert cross_grammar_baseline(hand, 4) == pytest.approx((1 / 2 + 1 / 2) / 6)  # (g, h) and (h, g) share "a"
    assert brute_baselines(hand, 4) == pytest.approx((2 / 3, 1 / 6))
    rng = random.Random(7)
    for cfg, m in ((TINY, 5), (REC_TINY, 6), (dict(REC_TINY, grammar_max_strings=30), 5)):
        gs = [random_grammar(f"b{i}", rng, cfg) for i in range(6)]
        const, cross = constant_baseline(gs, m)[0], cross_grammar_baseline(gs, m)
        assert (const, cross) == pytest.approx(brute_baselines(gs, m)) and 0 < cross < const <= 1
    best = constant_baseline(gs, m)[1].split()
    assert sum(g.recognize(best) for g in gs) / len(gs) == const


def test_count_trees_counts_nothing_for_a_sequence_longer_than_the_length():
    """A sequence of k symbols yields at least k terminals: S -> a b B | c with B -> d has 1 string of length 1."""
    g = Grammar("g", {"S": [("a", "b", "B"), ("c",)], "B": [("d",)]})
    assert [g.count_trees(n) for n in (1, 2, 3)] == [1, 1, 2] and len(g.language(1)) == 1


def test_right_linear_grammars_derive_left_to_right():
    """grammar_right_linear: every alternative is terminals then at most one nonterminal, so every sentential form
    of a derivation is terminals and one nonterminal at its end, each form extending the one before; and the
    language still equals the strings the recognizer accepts (tiny ones, brute force)."""
    rng = random.Random(7)
    for i in range(100):
        g = random_grammar(f"l{i}", rng, RIGHT)
        for alts in g.rules.values():
            for a in alts:
                assert 1 <= sum(not g.is_nt(s) for s in a) <= 2 and not any(g.is_nt(s) for s in a[:-1])
        for _ in range(5):
            words, forms = g.sample(rng, RIGHT["grammar_max_len"])
            for before, after in zip(forms, forms[1:]):
                assert after.startswith(before.rsplit(" ", 1)[0] if " " in before else "")
                assert not any(g.is_nt(s) for s in after.split()[:-1])
    tiny = dict(REC_TINY, grammar_right_linear=True, grammar_max_rhs=2)
    for i in range(30):
        g = random_grammar(f"t{i}", rng, tiny)
        assert g.language(6) == recognized(g, g.terminals(), 6), g.render()


@pytest.mark.parametrize("cfg", [RIGHT, REC])
def test_rules_trace_lists_the_rules_that_rebuild_the_derivation(cfg):
    """grammar_trace = "rules": after the restated rules, one line "X -> alt" per step, each an alternative of X;
    applying them to the leftmost nonterminal, in order, from S rebuilds every sentential form and the string."""
    rng = random.Random(8)
    for i in range(30):
        g = random_grammar(f"s{i}", rng, cfg)
        words, forms = g.sample(rng, cfg["grammar_max_len"])
        text = g.cot(forms, "rules")
        assert text.startswith(g.render()) and g.cot(forms) == g.render() + "\n".join(forms)
        form, rebuilt = ["S"], ["S"]
        for line in text[len(g.render()):].split("\n"):
            nt, alt = line.split(" -> ")
            assert tuple(alt.split()) in g.rules[nt]
            i = next(i for i, s in enumerate(form) if g.is_nt(s))
            assert form[i] == nt
            form = form[:i] + alt.split() + form[i + 1:]
            rebuilt.append(" ".join(form))
        assert rebuilt == forms and form == words
