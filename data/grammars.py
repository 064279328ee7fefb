"""Grammars domain: random context-free grammars ("text generation from grammars").

A `Grammar` has a name (the pointer), nonterminals S, A, B, ... (uppercase) and terminals
(the first `grammar_terminals` lowercase letters). By default rule i may only use nonterminals
after it, so every derivation terminates, the language is finite and its longest string is
computable; generation rejects grammars whose longest string exceeds `grammar_max_len`. With
`grammar_recursive` an alternative may use any nonterminal (itself too), so languages are infinite:
generation then needs every nonterminal productive, forbids unit alternatives (A -> B), and
`grammar_max_len` bounds the strings instead: sampling restarts a derivation whose sentential form
grows past it, and every count (grammar_min/max_strings, chance_validity, the baselines) is over
`language(grammar_max_len)`, the strings of at most that many terminals. Either way generation
rejects grammars whose shortest string is shorter than `grammar_min_len` or that have fewer than
`grammar_min_strings` strings. With `grammar_right_linear` every alternative is 1 to `grammar_max_rhs`
terminals followed by at most one nonterminal (A -> a b B | c), so a leftmost derivation writes its string
left to right and every sentential form is terminals and one nonterminal at its end. A string of the
language is written as its terminals separated by single spaces ("a c b"). `recognize` is an Earley parser
(no empty alternatives exist); `language` enumerates strings by dynamic programming over lengths,
independently of it.
"""
import collections
import math

NT_NAMES = "SABCDEFGHIJKLMNOPQRTUVWXYZ"


class Grammar:
    def __init__(self, name, rules, start="S"):
        self.name, self.rules, self.start = name, {k: [tuple(a) for a in v] for k, v in rules.items()}, start

    def to_json(self):
        """Rules as a list of [nonterminal, alternatives] in their order (a JSON object written with sorted
        keys would lose it, and render() would then differ from the trained instruction)."""
        return {"name": self.name, "start": self.start,
                "rules": [[k, [list(a) for a in v]] for k, v in self.rules.items()]}

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

    def sample(self, rng, max_len=None):
        """A uniformly random leftmost derivation, restarted whenever its sentential form grows past
        max_len symbols (forms never shrink; language(max_len) must not be empty); returns (terminals list,
        leftmost sentential forms)."""
        form, forms = [self.start], [self.start]
        while any(self.is_nt(s) for s in form):
            i = next(i for i, s in enumerate(form) if self.is_nt(s))
            form = form[:i] + list(rng.choice(self.rules[form[i]])) + form[i + 1:]
            forms.append(" ".join(form))
            if max_len is not None and len(form) > max_len:
                form, forms = [self.start], [self.start]
        return form, forms

    def cot(self, forms, trace="forms"):
        """CoT text: restate the rules, then the leftmost derivation one line per step: trace "forms", the
        sentential form; trace "rules", the rule applied ("A -> b a B": the leftmost nonterminal and the
        alternative it became), whose nonterminal and arrow repeat the start of that rule's line above; trace
        "rule_form", the rule applied, " ; ", then the sentential form it made ("A -> b a B ; c b a B")."""
        if trace == "forms":
            return self.render() + "\n".join(forms)
        rules = [f"{nt} -> {' '.join(alt)}" for nt, alt in self.steps(forms)]
        if trace == "rules":
            return self.render() + "\n".join(rules)
        return self.render() + "\n".join(f"{r} ; {f}" for r, f in zip(rules, forms[1:]))  # "rule_form"

    def steps(self, forms):
        """[(nonterminal, alternative)] that turned each leftmost sentential form of `forms` into the next."""
        out = []
        for before, after in zip(forms, forms[1:]):
            b, a = before.split(), after.split()
            i = next(i for i, s in enumerate(b) if self.is_nt(s))
            rest = len(b) - i - 1
            out.append((b[i], tuple(a[i:len(a) - rest])))
        return out

    def language(self, max_len=None, cap=200000):
        """The strings of at most max_len terminals (default: the longest; only for grammars without
        recursion) as a set of tuples, by dynamic programming over lengths; ValueError when a
        nonterminal derives more than `cap` of them."""
        m = self.max_len() if max_len is None else max_len
        L = {nt: [set() for _ in range(m + 1)] for nt in self.rules}  # L[X][n]: the strings of length n X derives

        def seq(syms, n):  # the strings of length n that the symbol sequence syms derives
            if len(syms) == 1:
                return L[syms[0]][n] if self.is_nt(syms[0]) else {syms} if n == 1 else set()
            out = set()
            for k in range(1, n - len(syms) + 2):
                heads = seq(syms[:1], k)
                if heads:
                    tails = seq(syms[1:], n - k)
                    out.update(u + v for u in heads for v in tails)
            return out

        unit = lambda alt: len(alt) == 1 and self.is_nt(alt[0])
        for n in range(1, m + 1):
            for nt, alts in self.rules.items():
                for alt in alts:
                    if not unit(alt):
                        L[nt][n] |= seq(alt, n)
            grew = True
            while grew:  # unit alternatives (A -> B) reach strings of the same length: copy until nothing grows
                grew = False
                for nt, alts in self.rules.items():
                    for alt in filter(unit, alts):
                        if not L[alt[0]][n] <= L[nt][n]:
                            L[nt][n] |= L[alt[0]][n]
                            grew = True
            if any(sum(map(len, sets)) > cap for sets in L.values()):
                raise ValueError(f"grammar {self.name} has more than {cap} strings")
        return set().union(*L[self.start])

    def count_trees(self, max_len):
        """The derivation trees from the start symbol with at most max_len terminals, counted: an upper bound on
        len(language(max_len)), quick to compute. Unit alternatives must point to later nonterminals (no cycle)."""
        C = {nt: [0] * (max_len + 1) for nt in self.rules}  # C[X][n]: the trees from X with n terminals

        def seq(syms, n):
            if n < len(syms):  # every symbol yields at least one terminal
                return 0
            if len(syms) == 1:
                return C[syms[0]][n] if self.is_nt(syms[0]) else int(n == 1)
            if not self.is_nt(syms[0]):
                return seq(syms[1:], n - 1)
            return sum(C[syms[0]][k] * seq(syms[1:], n - k) for k in range(1, n - len(syms) + 2) if C[syms[0]][k])
        for n in range(1, max_len + 1):
            for nt in reversed(self.rules):  # last to first: a unit alternative's nonterminal is done first
                C[nt][n] = sum(seq(alt, n) for alt in self.rules[nt])
        return sum(C[self.start])

    def shortest(self):
        """{nonterminal: length of its shortest string} (math.inf for one that derives no string)."""
        short, changed = dict.fromkeys(self.rules, math.inf), True
        while changed:
            changed = False
            for nt, alts in self.rules.items():
                n = min(sum(short[s] if self.is_nt(s) else 1 for s in alt) for alt in alts)
                if n < short[nt]:
                    short[nt], changed = n, True
        return short

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

    def chance_validity(self, max_len=None):
        """P(valid) of a uniform random string whose length is drawn uniformly from the lengths of language(max_len)."""
        lang, t = self.language(max_len), len(self.terminals())
        lengths = sorted({len(w) for w in lang})
        return sum(sum(len(w) == n for w in lang) / t ** n for n in lengths) / len(lengths)


def random_grammar(name, rng, cfg, tries=1000):
    n_nt, n_t, rec, m = (cfg["grammar_nonterminals"], cfg["grammar_terminals"], cfg["grammar_recursive"],
                         cfg["grammar_max_len"])
    nts, terms = list(NT_NAMES[:n_nt]), [chr(97 + i) for i in range(n_t)]
    for _ in range(tries):
        rules = {}
        for i, nt in enumerate(nts):
            pool, alts = nts if rec else nts[i + 1:], []
            for _ in range(rng.randint(2, cfg["grammar_alternatives"])):
                n = rng.randint(1, cfg["grammar_max_rhs"])  # with recursion a single symbol is a terminal (no A -> B)
                if cfg["grammar_right_linear"]:  # n terminals, then one nonterminal or none
                    alts.append(tuple(rng.choice(terms) for _ in range(n)) +
                                ((rng.choice(pool),) if pool and rng.random() < cfg["grammar_nt_prob"] else ()))
                    continue
                alts.append(tuple(rng.choice(pool)
                                  if pool and rng.random() < cfg["grammar_nt_prob"] and (n > 1 or not rec)
                                  else rng.choice(terms) for _ in range(n)))
            rules[nt] = sorted(set(alts))
        g = Grammar(name, rules)
        if g.reachable() != set(nts) or (not rec and g.max_len() > m):
            continue
        short = g.shortest()
        if max(short.values()) == math.inf or short[g.start] < cfg["grammar_min_len"]:  # all productive, none too short
            continue
        if g.count_trees(m) < cfg["grammar_min_strings"]:  # a quick upper bound on the strings, before enumerating them
            continue
        try:
            if len(g.language(m, cap=cfg["grammar_max_strings"])) >= cfg["grammar_min_strings"]:
                return g
        except ValueError:
            continue
    raise ValueError(f"no grammar met grammar_max_len={m}, grammar_min_len={cfg['grammar_min_len']} and "
                     f"grammar_min_strings={cfg['grammar_min_strings']} in {tries} tries; "
                     "loosen one of them in the corpus config")


def constant_baseline(grammars, max_len):
    """(validity, answer) of the best constant answer: the string of at most max_len terminals that the most
    of `grammars` accept (ties: the smallest), and the fraction of them that accept it."""
    counts = collections.Counter(w for g in grammars for w in g.language(max_len))
    if not counts:
        return 0.0, None
    best = min(counts, key=lambda w: (-counts[w], w))
    return counts[best] / len(grammars), " ".join(best)


def cross_grammar_baseline(grammars, max_len):
    """Validity of answering with a uniformly random string of another grammar: the mean over ordered pairs
    (g, h), h != g, of the fraction of h's strings of at most max_len terminals that g accepts."""
    langs = [g.language(max_len) for g in grammars]
    pairs = [(a, b) for i, a in enumerate(langs) for j, b in enumerate(langs) if i != j]
    return sum(len(a & b) / len(b) for a, b in pairs) / len(pairs) if pairs else 0.0
