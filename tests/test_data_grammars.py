import itertools
import random

from data.config import DEFAULTS
from data.grammars import Grammar, random_grammar

TINY = dict(DEFAULTS, grammar_nonterminals=3, grammar_terminals=2, grammar_max_len=5, grammar_min_strings=3)


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
    balanced = lambda w: all(w[:k].count("a") >= w[:k].count("b") for k in range(len(w) + 1)) and w.count("a") == w.count("b")
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
    from data.build import ensure_corpus, load_grammars
    import json, os
    d = ensure_corpus(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "corpus_tiny.py"),
                      str(tmp_path / "tiny"))
    behaviours = [b for b in json.load(open(os.path.join(d, "behaviours.json"))) if b["domain"] == "grammars"]
    grammars = load_grammars(d)
    assert behaviours and all(grammars[b["name"]].render() == b["instruction"] for b in behaviours)
    assert any(list(grammars[b["name"]].rules) != sorted(grammars[b["name"]].rules) for b in behaviours)  # order matters
