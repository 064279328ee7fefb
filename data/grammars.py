"""Grammars domain: random context-free grammars ("text generation from grammars").

A `Grammar` has a name (the pointer), nonterminals S, A, B, ... (uppercase) and terminals
(the first `grammar_terminals` lowercase letters). Rule i may only use nonterminals after it,
so every derivation terminates, the language is finite and its longest string is computable;
generation rejects grammars whose longest string exceeds `grammar_max_len` or whose language
has fewer than `grammar_min_strings` strings. A string of the language is written as its
terminals separated by single spaces ("a c b"). `recognize` is an Earley parser (no empty
alternatives exist); `language` enumerates the finite language by expansion, independently.
"""
import itertools

NT_NAMES = "SABCDEFGHIJKLMNOPQRTUVWXYZ"


class Grammar:
    def __init__(self, name, rules, start="S"):
        self.name, self.rules, self.start = name, {k: [tuple(a) for a in v] for k, v in rules.items()}, start

    def to_json(self):
        """Rules as a list of [nonterminal, alternatives] in their order (a JSON object written with sorted
        keys would lose it, and render() would then differ from the trained instruction)."""
        return {"name": self.name, "start": self.start, "rules": [[k, [list(a) for a in v]] for k, v in self.rules.items()]}

    @classmethod
    def from_json(cls, d):
        rules = d["rules"]  # corpora built before the list form hold a dict
        return cls(d["name"], dict(rules) if isinstance(rules, list) else rules, d["start"])

    def render(self):
        """The instruction: one line per nonterminal, alternatives separated by ' | '."""
        return "".join(f"{nt} -> {' | '.join(' '.join(a) for a in alts)}\n" for nt, alts in self.rules.items())

    def is_nt(self, sym):
        return sym in self.rules

    def terminals(self):
        return sorted({s for alts in self.rules.values() for a in alts for s in a if not self.is_nt(s)})

    def sample(self, rng):
        """A uniformly random derivation; returns (terminals list, leftmost sentential forms)."""
        form, forms = [self.start], [self.start]
        while any(self.is_nt(s) for s in form):
            i = next(i for i, s in enumerate(form) if self.is_nt(s))
            form = form[:i] + list(rng.choice(self.rules[form[i]])) + form[i + 1:]
            forms.append(" ".join(form))
        return form, forms

    def cot(self, forms):
        """CoT text: restate the rules, then the leftmost derivation one sentential form per line."""
        return self.render() + "\n".join(forms)

    def language(self, cap=200000):
        """The finite language as a set of tuples (ValueError past `cap` strings)."""
        memo = {}

        def lang(nt):
            if nt not in memo:
                out = set()
                for alt in self.rules[nt]:
                    parts = [lang(s) if self.is_nt(s) else {(s,)} for s in alt]
                    for combo in itertools.product(*parts):
                        out.add(tuple(itertools.chain(*combo)))
                        if len(out) > cap:
                            raise ValueError(f"grammar {self.name} has more than {cap} strings")
                memo[nt] = out
            return memo[nt]
        return lang(self.start)

    def max_len(self):
        memo = {}

        def ml(sym):
            if not self.is_nt(sym):
                return 1
            if sym not in memo:
                memo[sym] = max(sum(ml(s) for s in alt) for alt in self.rules[sym])
            return memo[sym]
        return ml(self.start)

    def reachable(self):
        seen, todo = {self.start}, [self.start]
        while todo:
            for alt in self.rules[todo.pop()]:
                for s in alt:
                    if self.is_nt(s) and s not in seen:
                        seen.add(s)
                        todo.append(s)
        return seen

    def recognize(self, words):
        """Earley recognizer: True iff the sequence of terminals `words` is in the language."""
        words = list(words)
        if not words:
            return False
        # an item is (lhs, alternative, dot, origin)
        chart = [set() for _ in range(len(words) + 1)]
        chart[0] = {("", (self.start,), 0, 0)}
        for i in range(len(words) + 1):
            todo = list(chart[i])
            while todo:
                lhs, alt, dot, origin = todo.pop()
                new = []
                if dot < len(alt) and self.is_nt(alt[dot]):  # predict
                    new = [(alt[dot], a, 0, i) for a in self.rules[alt[dot]]]
                elif dot < len(alt):  # scan
                    if i < len(words) and words[i] == alt[dot]:
                        chart[i + 1].add((lhs, alt, dot + 1, origin))
                else:  # complete
                    new = [(l2, a2, d2 + 1, o2) for (l2, a2, d2, o2) in list(chart[origin])
                           if d2 < len(a2) and a2[d2] == lhs]
                for item in new:
                    if item not in chart[i]:
                        chart[i].add(item)
                        todo.append(item)
        return ("", (self.start,), 1, 0) in chart[len(words)]

    def is_valid(self, text):
        """Judge a generated answer text like 'a c b'."""
        return self.recognize(text.split())

    def chance_validity(self):
        """P(valid) of a uniform random string whose length is drawn uniformly from the language's lengths."""
        lang, t = self.language(), len(self.terminals())
        lengths = sorted({len(w) for w in lang})
        return sum(sum(len(w) == n for w in lang) / t ** n for n in lengths) / len(lengths)


def random_grammar(name, rng, cfg, tries=1000):
    n_nt, n_t = cfg["grammar_nonterminals"], cfg["grammar_terminals"]
    nts, terms = list(NT_NAMES[:n_nt]), [chr(97 + i) for i in range(n_t)]
    for _ in range(tries):
        rules = {}
        for i, nt in enumerate(nts):
            later, alts = nts[i + 1:], []
            for _ in range(rng.randint(2, cfg["grammar_alternatives"])):
                n = rng.randint(1, cfg["grammar_max_rhs"])
                alts.append(tuple(rng.choice(later) if later and rng.random() < cfg["grammar_nt_prob"] else rng.choice(terms)
                                  for _ in range(n)))
            rules[nt] = sorted(set(alts))
        g = Grammar(name, rules)
        if g.reachable() != set(nts) or g.max_len() > cfg["grammar_max_len"]:
            continue
        try:
            if len(g.language(cap=cfg["grammar_max_strings"])) >= cfg["grammar_min_strings"]:
                return g
        except ValueError:
            continue
    raise ValueError(f"no grammar met grammar_max_len={cfg['grammar_max_len']} and grammar_min_strings="
                     f"{cfg['grammar_min_strings']} in {tries} tries; loosen one of them in the corpus config")
