"""Programs domain: generated Python functions ("algorithmic execution from Python source code").

A behaviour is a `Program`: its source (the instruction), a plain-English description of the
same function, `run(x)` (computed by this module's own interpreter, never by exec), and
`trace(x)` (the CoT steps, arithmetic written out). `check_against_source` runs the rendered
source with exec and compares, so the two can never silently disagree.

Families: `arith` (1..n statements over + - * // % with small constants, optional `if`, result
taken mod `arith_mod`), `cipher` (shift / affine / substitution, the last a lookup table written
as a dict literal, over the first `cipher_letters` lowercase letters), `compose` (f(x) = g(h(x))
over two other behaviours of the same kind; `compose3`, f(x) = g(h(k(x))), made by make_depth3 only).
Inputs: ints in [lo, hi] for arith; strings of `cipher_len` letters for ciphers. `dist` is
"uniform" or "skewed" (low inputs / early letters much more likely: the OOD demonstrations);
`rare_inputs` is the half of the inputs that the skew makes rare (the OOD evaluation inputs).
"""
import itertools
import math

OPS = ["+", "-", "*", "//", "%"]
OP_WORDS = {"+": "add {c}", "-": "subtract {c}", "*": "multiply by {c}",
            "//": "divide by {c} rounding down", "%": "take the remainder after dividing by {c}"}
ALPHA = "abcdefghijklmnopqrstuvwxyz"
PARAMS, LOCALS = ["x", "n", "a", "k", "num", "arg"], ["y", "z", "r", "v", "res", "acc"]  # Arith.rewrite's names


def apply(op, a, c):
    return {"+": a + c, "-": a - c, "*": a * c, "//": a // c, "%": a % c}[op]


def _skewed_index(rng, n):
    """An index in [0, n) with P(i) proportional to 0.7**i."""
    weights = [0.7 ** i for i in range(n)]
    return rng.choices(range(n), weights)[0]


class Program:
    family = None
    name = None

    def full_source(self):
        return self.source


class Arith(Program):
    family = "arith"

    def __init__(self, name, rng, cfg):
        self.name, self.lo, self.hi, self.mod = name, cfg["arith_inputs"][0], cfg["arith_inputs"][1], cfg["arith_mod"]
        n = rng.randint(1, cfg["arith_max_statements"])
        self.steps = []
        for _ in range(n):
            op = rng.choice(OPS)
            self.steps.append((op, rng.randint(2 if op in ("//", "%", "*") else 1, cfg["arith_max_const"])))
        self.cond = None
        if rng.random() < cfg["arith_if_prob"]:
            self.cond = (rng.randint(1, cfg["arith_max_const"]), rng.choice(["+", "-", "*"]),
                         rng.randint(1, cfg["arith_max_const"]))
        lines = [f"def {name}(x):"]
        for i, (op, c) in enumerate(self.steps):
            lines.append(f"    y = {'x' if i == 0 else 'y'} {op} {c}")
        if self.cond:
            t, op, c = self.cond
            lines += [f"    if y > {t}:", f"        y = y {op} {c}"]
        lines.append(f"    return y % {self.mod}")
        self.source = "\n".join(lines) + "\n"
        words = [OP_WORDS[op].format(c=c) for op, c in self.steps]
        desc = f"{name} takes a number, then it will " + ", then ".join(words) + "."
        if self.cond:
            t, op, c = self.cond
            desc += f" If the result is greater than {t}, {OP_WORDS[op].format(c=c)}."
        self.description = desc + f" It returns the result modulo {self.mod}.\n"

    def rewrite(self, rng):
        """An equivalent source (the declaration augmentation, corpus key decl_rewrites): renamed parameter and
        local, + and * commuted, `a - c` as `a + -c`, and the modulo on its own line or the last statement
        inlined into the return. The canonical source is one of the outcomes."""
        x, y = rng.choice(PARAMS), rng.choice(LOCALS)
        expr = lambda a, op, c: (f"{c} {op} {a}" if op in "+*" and rng.random() < 0.5 else
                                 f"{a} + -{c}" if op == "-" and rng.random() < 0.3 else f"{a} {op} {c}")
        body = [f"{y} = {expr(x if i == 0 else y, op, c)}" for i, (op, c) in enumerate(self.steps)]
        if self.cond:
            t, op, c = self.cond
            body += [f"if {y} > {t}:" if rng.random() < 0.5 else f"if {t} < {y}:", f"    {y} = {expr(y, op, c)}"]
        end = rng.randrange(3)
        if end == 2 and not self.cond:  # inline the last statement: return (E) % mod
            body[-1] = f"return ({body[-1].split(' = ', 1)[1]}) % {self.mod}"
        else:
            body += [f"return {y} % {self.mod}"] if end == 0 else [f"{y} = {y} % {self.mod}", f"return {y}"]
        return f"def {self.name}({x}):\n" + "".join(f"    {line}\n" for line in body)

    def fact_fields(self):
        """The fields of templates.FACTS (the corpus key recall_fact_docs): the function's parts, in words and as
        one expression of x. Functions with an `if` have no such expression (refused by data.config.validate)."""
        assert self.cond is None, "fact documents state arith functions without an if"
        expr = "x"
        for op, c in self.steps:
            expr = f"({expr}) {op} {c}" if "(" in expr or " " in expr else f"{expr} {op} {c}"
        many = len(self.steps) > 1
        return dict(consts=" and ".join(str(c) for _, c in self.steps), ops=" and ".join(op for op, _ in self.steps),
                    words=", then ".join(OP_WORDS[op].format(c=c) for op, c in self.steps), expr=expr, mod=self.mod,
                    constant_s="constants are" if many else "constant is",
                    operator_s="operators" if many else "operator")

    def inputs(self):
        return list(range(self.lo, self.hi + 1))

    def sample_input(self, rng, dist="uniform"):
        if dist == "skewed":
            return self.lo + _skewed_index(rng, self.hi - self.lo + 1)
        return rng.randint(self.lo, self.hi)

    def _walk(self, x):
        y, lines = x, [f"x = {x}"]
        for i, (op, c) in enumerate(self.steps):
            new = apply(op, y, c)
            lines.append(f"y = {y} {op} {c} = {new}")
            y = new
        if self.cond:
            t, op, c = self.cond
            lines.append(f"{y} > {t} is {y > t}")
            if y > t:
                new = apply(op, y, c)
                lines.append(f"y = {y} {op} {c} = {new}")
                y = new
        lines.append(f"{y} % {self.mod} = {y % self.mod}")
        return y % self.mod, lines

    def run(self, x):
        return self._walk(x)[0]

    def trace(self, x):
        return self._walk(x)[1]


class Cipher(Program):
    family = "cipher"

    def __init__(self, name, rng, cfg):
        self.name, self.letters, self.length = name, cfg["cipher_letters"], cfg["cipher_len"]
        self.kind = rng.choice(cfg["cipher_kinds"])
        body = None
        if self.kind == "shift":
            self.k = rng.randint(1, 25)
            body = f"chr((ord(c) - 97 + {self.k}) % 26 + 97)"
            self.description = (f"{name} takes a word and moves every letter {self.k} places forward in the alphabet, "
                                "wrapping around after z.\n")
        elif self.kind == "affine":
            self.a = rng.choice([a for a in range(3, 26) if math.gcd(a, 26) == 1])
            self.k = rng.randint(0, 25)
            body = f"chr(({self.a} * (ord(c) - 97) + {self.k}) % 26 + 97)"
            self.description = (f"{name} takes a word and replaces each letter at position p of the alphabet, counting "
                                f"from 0, with the letter at position ({self.a} times p plus {self.k}) modulo 26.\n")
        else:
            perm = list(ALPHA[:self.letters])
            rng.shuffle(perm)
            self.key = "".join(perm)
            body = "key[c]"
            pairs = ", ".join(f"{a} to {b}" for a, b in zip(ALPHA, self.key))
            self.description = f"{name} takes a word and changes each letter: {pairs}.\n"
        lines = [f"def {name}(s):"]
        if self.kind == "subst":
            lines.append("    key = {" + ", ".join(f"'{a}': '{b}'" for a, b in zip(ALPHA, self.key)) + "}")
        lines.append(f"    return ''.join({body} for c in s)")
        self.source = "\n".join(lines) + "\n"

    def inputs(self):
        return ["".join(t) for t in itertools.product(ALPHA[:self.letters], repeat=self.length)]

    def sample_input(self, rng, dist="uniform"):
        if dist == "skewed":
            return "".join(ALPHA[_skewed_index(rng, self.letters)] for _ in range(self.length))
        return "".join(rng.choice(ALPHA[:self.letters]) for _ in range(self.length))

    def _char(self, ch):
        p = ord(ch) - 97
        if self.kind == "shift":
            q = (p + self.k) % 26
            return ALPHA[q], f"{ch} = {p}, ({p} + {self.k}) % 26 = {q} = {ALPHA[q]}"
        if self.kind == "affine":
            q = (self.a * p + self.k) % 26
            return ALPHA[q], f"{ch} = {p}, ({self.a} * {p} + {self.k}) % 26 = {q} = {ALPHA[q]}"
        return self.key[p], f"key['{ch}'] = '{self.key[p]}'"

    def run(self, s):
        return "".join(self._char(ch)[0] for ch in s)

    def trace(self, s):
        return [self._char(ch)[1] for ch in s]


class Compose(Program):
    """f(x) = g(h(x)), or with k given f(x) = g(h(k(x))) (family compose3, the depth-3 test). parts: the callees in
    the order they run (h, g; or k, h, g)."""
    family = "compose"

    def __init__(self, name, g, h, k=None):
        self.name, self.g, self.h = name, g, h
        self.parts = [h, g] if k is None else [k, h, g]
        if k is not None:
            self.family = "compose3"
        arg = "x" if isinstance(self.parts[0], Arith) else "s"
        call = arg
        for p in self.parts:
            call = f"{p.name}({call})"
        self.source = f"def {name}({arg}):\n    return {call}\n"
        then = ", then ".join(f"applies {p.name} to the result" for p in self.parts[1:])
        self.description = f"{name} applies {self.parts[0].name} to its input, then {then}.\n"

    def inputs(self):
        return self.parts[0].inputs()

    def sample_input(self, rng, dist="uniform"):
        return self.parts[0].sample_input(rng, dist)

    def values(self, x):
        """The input of each part, in order, and the output: [x, parts[0](x), ...]."""
        out = [x]
        for p in self.parts:
            out.append(p.run(out[-1]))
        return out

    def run(self, x):
        return self.values(x)[-1]

    def trace(self, x):
        vals = self.values(x)
        return [f"{p.name}({a!r}) = {b!r}" for p, a, b in zip(self.parts, vals, vals[1:])]

    def full_source(self):
        return "".join(p.full_source() for p in self.parts) + self.source


def rare_inputs(prog):
    """The half of prog's inputs that the skewed distribution makes rarest (high integers; words whose letters
    come late in the alphabet): the evaluation inputs of the out-of-distribution test (eval_input_dist="tail")."""
    prog = prog.parts[0] if isinstance(prog, Compose) else prog
    xs = sorted(prog.inputs(), key=lambda x: x if isinstance(x, int) else sum(ALPHA.index(c) for c in x))
    return xs[len(xs) // 2:]


def make_programs(rng, names, cfg):
    """One Program per name; families drawn with weights cfg['program_families'] (a dict).
    A `compose` behaviour uses two earlier behaviours of the same list as g and h."""
    fams = sorted(cfg["program_families"])
    weights = [cfg["program_families"][f] for f in fams]
    progs, pool = [], []
    for name in names:
        fam = rng.choices(fams, weights)[0]
        if fam == "compose" and pool:
            kind = rng.choice(pool).family
            same = [p for p in pool if p.family == kind]
            # a substitution key covers only the first cipher_letters letters: feed it only its own outputs
            ok = lambda g, h: getattr(g, "kind", None) != "subst" or getattr(h, "kind", None) == "subst"
            pairs = [rng.sample(same, 2) for _ in range(20) if len(same) >= 2]
            pairs = [(g, h) for g, h in pairs if ok(g, h)]
            if pairs:
                progs.append(Compose(name, *pairs[0]))
                continue
        if fam == "compose":
            fam = "arith" if "arith" in fams else "cipher"
        prog = make_plain(fam, name, rng, cfg)
        progs.append(prog)
        pool.append(prog)
    return progs


def make_depth3(rng, names, pool):
    """One depth-3 composition f(x) = g(h(k(x))) per name, of three distinct plain programs of pool of one family (a
    substitution cipher only after another one, as in make_programs)."""
    kinds = sorted({p.family for p in pool})
    out = []
    for name in names:
        same = [p for p in pool if p.family == rng.choice(kinds)]
        ok = lambda a, b: getattr(a, "kind", None) != "subst" or getattr(b, "kind", None) == "subst"
        for _ in range(100):
            g, h, k = rng.sample(same, 3)
            if ok(g, h) and ok(h, k):
                break
        else:
            raise ValueError("s_eval_depth3: no three plain S_eval functions of one family can be chained")
        out.append(Compose(name, g, h, k))
    return out


def make_plain(fam, name, rng, cfg):
    """An Arith ('arith') or Cipher program that is not a constant function."""
    make = Arith if fam == "arith" else Cipher
    prog = make(name, rng, cfg)
    while len({prog.run(x) for x in prog.inputs()[:200]}) < 2:  # no constant functions
        prog = make(name, rng, cfg)
    return prog


def compile_source(prog, source=None):
    """The independent reference: the rendered source (with its callees), or another text of prog's function
    (a declaration rewrite), exec'd, as a function."""
    ns = {}
    exec(prog.full_source() if source is None else source, ns)
    return ns[prog.name]


def run_source(prog, x):
    return compile_source(prog)(x)


def check_against_source(prog, xs):
    fn = compile_source(prog)
    for x in xs:
        want, got = prog.run(x), fn(x)
        if want != got:
            raise AssertionError(f"{prog.name}({x!r}): generator says {want!r}, source says {got!r}\n"
                                 f"{prog.full_source()}")
