"""The corpus builder: `python -m data.build [CONFIG] [--out DIR] [--seed N]` prints the corpus dir.

Layout of a corpus directory (flat; every file is hashed in manifest.json, written last):
    manifest.json                  vocab_size, tokenizer, special ids, mixtures (docs, tokens, max doc
                                   length), splits (behaviour names per domain and split), eval files,
                                   config, config_name, seed, files {name: sha256}
    tokenizer.tiktoken             the BPE ranks in tiktoken's format (data.tokenizer.load reads it)
    behaviours.json                every behaviour: name, domain, split, family, instruction, source,
                                   description, eval_inputs, grammar (rules, for grammars) and
                                   trained_strings (grammars: every string a training document, i.e.
                                   one of a mixture not named *_val, shows as an answer; sorted)
    NAME.{tokens,weights,offsets}.npy   one document list per mixture (data/format.py)
    eval.DOMAIN.SPLIT.MODE.jsonl   evaluation prompts, SPLIT in S_train/S_eval/S_control and MODE in
                                   implicit/cot/incontext
    rl.DOMAIN.S_train.jsonl        prompts of S_train on training inputs (for RL/GRPO), mode implicit
Eval/RL item fields: id, domain, split, mode, behaviour, family, input (program input or null),
template, prompt (text; prepend <|bos|>; ends where generation starts), and `answer` (programs:
the exact expected answer text, e.g. "7" or "'fcd'") or `grammar` (grammars: the behaviour
name, judged by data.grammars via load_grammars(corpus_dir)[name].is_valid(answer)) plus
`chance_validity`. Parse a completion with data.templates.parse_completion(text, mode).
Mixtures: pretrain, pretrain_val, decl_S_train, decl_S_eval, decl_S_train_S_eval, decl_val
(held-out templates), exec_S_train, exec_cot_S_train, exec_S_eval_N{n} for n in ad_demos (and, with
ad_uniform_control, exec_S_eval_uniform_N{n}: the same from the uniform input distribution),
decl_exec_S_train (decl+exec+exec_cot of S_train), mixture (decl of S_train and S_eval + exec
and exec_cot of S_train), replay (a replay_fraction sample of decl_exec_S_train), pretrain_replay
(pretrain_replay_docs pretrain documents: every curriculum stage trains on it too, so that finetuning
does not erase in-context execution).
"""
import argparse
import collections
import json
import math
import os
import random
import shutil
import sys

from tqdm import tqdm

from data import format, leakage, tokenizer
from data import templates as T
from data.config import POOL_SPLITS, SPLITS, load_config, validate
from data.grammars import Grammar, random_grammar
from data.names import make_names
from data.programs import Compose, compile_source, make_depth3, make_plain, make_programs, rare_inputs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVAL_SPLITS, MODES = ("S_train", "S_eval", "S_control"), ("implicit", "cot", "incontext")
HELD_SPLITS = EVAL_SPLITS + ("pretrain_recall_val",)  # splits with held-out evaluation inputs and eval files


def instruction_of(prog, form):
    """What declarations show of a program: its description (instruction_form "description") or its source."""
    return prog.description if form == "description" else prog.source


class Behaviour:
    """One behaviour of either domain, with its held-out evaluation inputs (programs only)."""

    def __init__(self, domain, split, obj, cfg, rng):
        self.domain, self.split, self.obj, self.name = domain, split, obj, obj.name
        if domain == "programs":
            self.family = obj.family
            self.form, self.nested = cfg["instruction_form"], cfg["compose_trace"] == "nested"
            self.instruction = instruction_of(obj, self.form)
            self.restate = cfg["cot_restates_instruction"]
            self.fn = compile_source(obj)  # the rendered source, run: every recorded output is checked against it
            k = cfg["eval_inputs"] if split in HELD_SPLITS else 0
            pool = rare_inputs(obj) if cfg["eval_input_dist"] == "tail" else obj.inputs()
            self.eval_inputs = sorted(rng.sample(pool, k))
        else:
            self.family, self.instruction, self.eval_inputs = "cfg", obj.render(), []
            self.max_len = cfg["grammar_max_len"]  # sampling bound of recursive grammars (never reached otherwise)
            self.trace = cfg["grammar_trace"]
        self.held = set(self.eval_inputs)
        self.held_of = {}  # every behaviour's held-out inputs by name, set by make_behaviours
        self.extra = False  # one of the s_eval_extra or s_train_extra behaviours

    def calls(self, x):
        """(behaviour, input) pairs that an execution on x shows, its trace included: a composition
        f = g(h(x)) also shows h on x and g on h(x)."""
        if isinstance(self.obj, Compose):
            return [(self.name, x)] + [(p.name, v) for p, v in zip(self.obj.parts, self.obj.values(x))]
        return [(self.name, x)]

    def shows_eval_input(self, x):
        return any(v in self.held_of.get(n, ()) for n, v in self.calls(x))

    def example(self, rng, dist="uniform", x=None):
        """(input or None, input text, answer text, cot text) for input x (an eval input: pass dist=None),
        or for a training input drawn from dist when x is None: one whose execution and trace show no
        evaluation input of any behaviour."""
        if self.domain == "grammars":
            words, forms = self.obj.sample(rng, self.max_len)
            return None, "", " ".join(words), self.obj.cot(forms, self.trace)
        for _ in range(10000):
            if x is not None and (dist is None or not self.shows_eval_input(x)):
                break
            x = self.obj.sample_input(rng, dist)
        else:
            raise format.CorpusError(f"{self.name}: no training input avoids every evaluation input; lower eval_inputs")
        y = self.obj.run(x)
        if y != self.fn(x):
            raise AssertionError(f"{self.name}({x!r}): generator says {y!r}, the source returns {self.fn(x)!r}")
        return x, repr(x), repr(y), self.cot(self.obj, x)

    def cot(self, prog, x):
        """The CoT trace of prog on x: its instruction when traces restate it, then its steps; a composition
        with nested traces: then h's trace on x and g's on h(x), each the same way."""
        instruction = instruction_of(prog, self.form) if self.restate else ""
        if self.nested and isinstance(prog, Compose):
            return instruction + "\n".join(self.cot(p, v) for p, v in zip(prog.parts, prog.values(x)))
        return instruction + "\n".join(prog.trace(x))

    def to_json(self, trained=()):
        """trained (grammars): the strings the training documents show (see shown_strings)."""
        d = dict(name=self.name, domain=self.domain, split=self.split, family=self.family,
                 instruction=self.instruction, eval_inputs=self.eval_inputs)
        if self.domain == "programs":
            d.update(source=self.obj.source, description=self.obj.description)
        else:
            d.update(grammar=self.obj.to_json(), trained_strings=sorted(trained))
        return d


def families(cfg, split):
    """cfg with the compose family dropped from program_families outside compose_splits."""
    if split in cfg["compose_splits"] or "compose" not in cfg["program_families"]:
        return cfg
    fams = {f: w for f, w in cfg["program_families"].items() if f != "compose"}
    return {**cfg, "program_families": fams or {"arith": 1.0}}


def fresh_names(rng, used, n):
    """n names drawn by rng, none of them in used."""
    return [x for x in make_names(rng, len(used) + n) if x not in used][:n]


def make_behaviours(cfg, seed):
    rng = random.Random(f"{seed}:behaviours")
    names = iter(make_names(rng, sum(cfg["n_behaviours"].values()) * len(cfg["domains"])))
    out = []
    for domain in cfg["domains"]:
        for split in SPLITS:
            ns = [next(names) for _ in range(cfg["n_behaviours"][split])]
            objs = (make_programs(rng, ns, families(cfg, split)) if domain == "programs"
                    else [random_grammar(n, rng, cfg) for n in ns])
            out += [Behaviour(domain, split, o, cfg, rng) for o in objs]
    if cfg["recall_pool"]:  # drawn after every other split, from its own seed: the other splits stay as they were
        rng = random.Random(f"{seed}:recall_pool")
        used = {b.name for b in out}
        fresh = fresh_names(rng, used, cfg["recall_pool"] + cfg["recall_pool_val"])
        for split, n in zip(POOL_SPLITS, (cfg["recall_pool"], cfg["recall_pool_val"])):
            ns, fresh = fresh[:n], fresh[n:]
            if cfg["recall_pool_domain"] == "programs":
                out += [Behaviour("programs", split, o, cfg, rng) for o in make_programs(rng, ns, families(cfg, split))]
            else:
                out += [Behaviour("grammars", split, random_grammar(n, rng, cfg), cfg, rng) for n in ns]
    before_extra = {b.name for b in out}  # s_train_extra_alone: its draw sees these names only
    if cfg["s_eval_extra"]:  # the same: drawn after the others (but s_train_extra's), from its own seed
        rng_x = random.Random(f"{seed}:s_eval_extra")
        ns = fresh_names(rng_x, {b.name for b in out}, cfg["s_eval_extra"])
        out += [Behaviour("programs", "S_eval", o, cfg, rng_x)
                for o in make_programs(rng_x, ns, families(cfg, "S_eval"))]
        for b in out[-len(ns):]:
            b.extra = True
    if cfg["s_train_extra"]:  # the same, after them
        rng_t = random.Random(f"{seed}:s_train_extra")
        ns = fresh_names(rng_t, before_extra if cfg["s_train_extra_alone"] else {b.name for b in out},
                         cfg["s_train_extra"])
        clash = sorted(set(ns) & {b.name for b in out})
        if clash:
            raise format.CorpusError(f"s_train_extra_alone: the extra S_train functions {clash} have the names of "
                                     "s_eval_extra functions; set s_train_extra_alone = False or another seed")
        fams = {**cfg, "program_families": cfg["s_train_extra_families"] or cfg["program_families"]}
        out += [Behaviour("programs", "S_train", o, cfg, rng_t)
                for o in make_programs(rng_t, ns, families(fams, "S_train"))]
        for b in out[-len(ns):]:
            b.extra = True
    if cfg["s_eval_depth3"]:  # the same, after them: compositions of three plain S_eval functions
        rng_d = random.Random(f"{seed}:s_eval_depth3")
        ns = fresh_names(rng_d, {b.name for b in out}, cfg["s_eval_depth3"])
        pool = [b.obj for b in out if b.split == "S_eval" and b.domain == "programs"
                and b.family in ("arith", "cipher")]
        out += [Behaviour("programs", "S_eval", o, cfg, rng_d) for o in make_depth3(rng_d, ns, pool)]
        for b in out[-len(ns):]:
            b.extra = True
    held_of, alone = {b.name: b.held for b in out}, None
    for i, b in enumerate(out):
        b.held_of = held_of
        if b.extra and b.split == "S_eval" and alone is None and cfg["s_train_extra_alone"]:
            alone = random.Random()  # s_train_extra_alone: the S_train extras' fallbacks draw from the state
            alone.setstate(rng.getstate())  # before the s_eval_extra ones, as without them; the rest goes on
        r = alone if alone is not None and b.extra and b.split == "S_train" else rng
        if isinstance(b.obj, Compose) and all(b.shows_eval_input(x) for x in b.obj.inputs()):
            # every x shows a held-out input (h's few outputs are all held-out inputs of g): no training
            # input is left, so this behaviour becomes a plain one (nothing composes a composition)
            own = cfg["s_train_extra_families"] if b.extra and b.split == "S_train" else {}
            fam = "arith" if "arith" in (own or cfg["program_families"]) else "cipher"
            out[i] = Behaviour(b.domain, b.split, make_plain(fam, b.name, r, cfg), cfg, r)
            out[i].extra = b.extra
            held_of[b.name] = out[i].held
            out[i].held_of = held_of
    return out


def decl_docs(b, rng, n, heldout=False):
    tpls, order = list((T.HELDOUT_DECL if heldout else T.DECL)[b.domain]), []
    while len(order) < n:  # cycle through shuffled templates: as many distinct pointers as possible
        rng.shuffle(tpls)
        order += tpls
    return [T.Doc("decl", b.domain, b.split, b.name, [], T.decl_segments(t, b.name, b.instruction)) for t in order[:n]]


def exec_doc(b, rng, dist, cot=False):
    x, xt, ans, trace = b.example(rng, dist)
    p = T.prompt(b.domain, T.pick(rng, b.domain, "exec"), b.name, xt)
    return T.Doc("exec_cot" if cot else "exec", b.domain, b.split, b.name, [] if x is None else b.calls(x),
                 T.exec_segments(p, ans, trace if cot else None))


def fact_docs(b, rng, n):
    """n fact documents of arith behaviour b (corpus key recall_fact_docs): each one form of templates.FACTS,
    cycling through them shuffled as decl_docs cycles its pointers; weight 1 on the whole text. The expression the
    forms state is run against the source on every input."""
    fields = b.obj.fact_fields()
    stated = eval(f"lambda x: ({fields['expr']}) % {fields['mod']}")
    if any(stated(x) != b.fn(x) for x in b.obj.inputs()):
        raise AssertionError(f"{b.name}: the stated expression {fields['expr']} disagrees with the source")
    forms, order = list(T.FACTS), []
    while len(order) < n:
        rng.shuffle(forms)
        order += forms
    return [T.Doc("fact", b.domain, b.split, b.name, [], [(f.format(name=b.name, **fields) + "\n", 1.0)])
            for f in order[:n]]


def pretrain_doc(b, rng, cfg):
    """The instruction, then pretrain_execs executions; or, with pretrain_cot_prob, pretrain_cot_execs CoT ones
    (grammar_pretrain_execs / grammar_pretrain_cot_execs for a grammar, when set)."""
    cot, g = rng.random() < cfg["pretrain_cot_prob"], "grammar_" if b.domain == "grammars" else ""
    n = (cfg[f"{g}pretrain_cot_execs"] or cfg["pretrain_cot_execs"] if cot
         else cfg[f"{g}pretrain_execs"] or cfg["pretrain_execs"])
    execs, xs = [], []
    for _ in range(n):
        x, xt, ans, trace = b.example(rng)
        xs += [] if x is None else b.calls(x)
        execs.append((T.prompt(b.domain, T.pick(rng, b.domain, "exec"), b.name, xt), ans, trace if cot else None))
    return T.Doc("pretrain", b.domain, b.split, b.name, xs,
                 T.pretrain_segments(T.pick(rng, b.domain, "decl"), b.name, b.instruction, execs,
                                     cfg["pretrain_prompt_weight"]))


def drop_trace(doc, k, restated):
    """A CoT execution document with the first k parts of its trace removed (part 1: `restated`, the
    instruction the trace starts with, when it does; then one line each). Same prompt, input and answer."""
    (prompt, w0), (text, w1) = doc.segments
    trace = text[:text.rindex(T.ANSWER_CUE)]
    assert trace.startswith(restated)
    parts = ([restated] if restated else []) + trace[len(restated):].split("\n")
    rest = "\n".join(parts[k:])
    return doc._replace(kind="exec_cot_drop", segments=[(prompt, w0), (rest + text[len(trace):], w1)])


def rewrite_decls(mixtures, behs, cfg, seed):
    """Corpus key decl_rewrites: every mixture with S_train's and S_eval's declaration documents showing, in turn,
    the source and decl_rewrites - 1 distinct rewrites of it (each run against the source on every input)."""
    rng, forms = random.Random(f"{seed}:rewrites"), {}
    for b in behs:
        if b.split in ("S_train", "S_eval") and b.domain == "programs":
            got = [b.obj.source]
            for _ in range(100 * cfg["decl_rewrites"]):
                src = b.obj.rewrite(rng) if len(got) < cfg["decl_rewrites"] else None
                got += [] if src is None or src in got else [src]
            for src in got:
                if any(compile_source(b.obj, src)(x) != b.fn(x) for x in b.obj.inputs()):
                    raise AssertionError(f"{b.name}: a rewrite disagrees with the source:\n{src}")
            forms[b.name] = got
    new, shown = {}, collections.Counter()
    for d in mixtures["decl_S_train"] + mixtures["decl_S_eval"]:
        if d.name in forms:
            (pointer, w0), (_, w1) = d.segments
            new[id(d)] = d._replace(segments=[(pointer, w0), (forms[d.name][shown[d.name] % len(forms[d.name])], w1)])
            shown[d.name] += 1
    return {name: [new.get(id(d), d) for d in docs] for name, docs in mixtures.items()}


def reformat_execs(mixtures, behs, cfg):
    """Corpus key s_train_execs: every mixture with S_train's direct or CoT executions dropped ("cot", "direct"),
    or its CoT traces without the restated instruction ("both_nosource", drop_trace's first part)."""
    how = cfg["s_train_execs"]
    source = {b.name: b.instruction for b in behs if b.split == "S_train" and b.domain == "programs"}
    new = {id(d): None for d in mixtures["exec_S_train"]} if how == "cot" else {}
    for d in mixtures["exec_cot_S_train"]:
        new[id(d)] = None if how == "direct" else drop_trace(d, 1, source[d.name]) if how == "both_nosource" else d
    return {name: [n for n in (new.get(id(d), d) for d in docs) if n is not None] for name, docs in mixtures.items()}


def make_docs(behs, cfg, seed):
    """Document lists by mixture name (each shuffled with its own seed)."""
    rng, dist = random.Random(f"{seed}:docs"), cfg["train_input_dist"]
    by, extra = collections.defaultdict(list), [b for b in behs if b.extra]
    for b in behs:
        if not b.extra:
            by[b.split].append(b)
    m = {"pretrain": [pretrain_doc(b, rng, cfg) for b in by["pretrain"] for _ in range(cfg["pretrain_docs"])],
         "pretrain_val": [pretrain_doc(b, rng, cfg) for b in by["pretrain_val"]
                          for _ in range(cfg["pretrain_val_docs"])],
         "decl_S_train": [d for b in by["S_train"] for d in decl_docs(b, rng, cfg["decl_docs"])],
         "decl_S_eval": [d for b in by["S_eval"] for d in decl_docs(b, rng, cfg["decl_docs"])],
         "decl_val": [d for b in by["S_train"] + by["S_eval"] for d in decl_docs(b, rng, cfg["decl_val_docs"], True)],
         "exec_S_train": [exec_doc(b, rng, dist) for b in by["S_train"] for _ in range(cfg["exec_docs"])],
         "exec_cot_S_train": [exec_doc(b, rng, dist, True) for b in by["S_train"] for _ in range(cfg["exec_cot_docs"])]}
    demos = {b.name: [exec_doc(b, rng, dist) for _ in range(max(cfg["ad_demos"]))] for b in by["S_eval"]}
    extra_eval, extra_train = ([b for b in extra if b.split == s] for s in ("S_eval", "S_train"))
    if extra_eval:  # s_eval_extra: their documents from their own seed (the others stay as they were)
        rng_x = random.Random(f"{seed}:s_eval_extra_docs")
        m["decl_S_eval"] += [d for b in extra_eval for d in decl_docs(b, rng_x, cfg["decl_docs"])]
        m["decl_val"] += [d for b in extra_eval for d in decl_docs(b, rng_x, cfg["decl_val_docs"], True)]
        demos.update({b.name: [exec_doc(b, rng_x, dist) for _ in range(max(cfg["ad_demos"]))] for b in extra_eval})
        by["S_eval"] += extra_eval
    if extra_train:  # s_train_extra: the same, from a seed of their own
        rng_t = random.Random(f"{seed}:s_train_extra_docs")
        m["decl_S_train"] += [d for b in extra_train for d in decl_docs(b, rng_t, cfg["decl_docs"])]
        m["decl_val"] += [d for b in extra_train for d in decl_docs(b, rng_t, cfg["decl_val_docs"], True)]
        m["exec_S_train"] += [exec_doc(b, rng_t, dist) for b in extra_train for _ in range(cfg["exec_docs"])]
        m["exec_cot_S_train"] += [exec_doc(b, rng_t, dist, True) for b in extra_train
                                  for _ in range(cfg["exec_cot_docs"])]
        by["S_train"] += extra_train
    for n in sorted(set(cfg["ad_demos"])):  # nested: the N=3 demos include the N=1 demo
        m[f"exec_S_eval_N{n}"] = [d for b in by["S_eval"] for d in demos[b.name][:n]]
    instructions = {b.name: b.instruction if b.restate else "" for b in by["S_train"] if b.domain == "programs"}
    for k in sorted(set(cfg["cot_internalise"])):
        m[f"exec_cot_S_train_drop{k}"] = [drop_trace(d, k, instructions[d.name]) for d in m["exec_cot_S_train"]
                                          if d.domain == "programs"]
    m["decl_S_train_S_eval"] = m["decl_S_train"] + m["decl_S_eval"]
    m["decl_exec_S_train"] = m["decl_S_train"] + m["exec_S_train"] + m["exec_cot_S_train"]
    m["mixture"] = m["decl_S_train_S_eval"] + m["exec_S_train"] + m["exec_cot_S_train"]
    k = math.ceil(cfg["replay_fraction"] * len(m["decl_exec_S_train"]))
    m["replay"] = random.Random(f"{seed}:replay").sample(m["decl_exec_S_train"], k)
    if cfg["recall_pool"]:  # declarations and, for recall_pool only, executions in separate documents
        rng = random.Random(f"{seed}:recall_pool_docs")
        m["pretrain"] += [d for b in by["recall_pool"] + by["pretrain_recall_val"]
                          for d in decl_docs(b, rng, cfg["recall_decl_docs"])]
        m["pretrain"] += [exec_doc(b, rng, "uniform", cot) for b in by["recall_pool"]  # pretraining: never skewed
                          for cot in [True] * cfg["recall_exec_docs"] + [False] * cfg["recall_direct_docs"]]
    k = min(cfg["pretrain_replay_docs"], len(m["pretrain"]))
    m["pretrain_replay"] = random.Random(f"{seed}:pretrain_replay").sample(m["pretrain"], k)
    if cfg["ad_uniform_control"]:  # the OOD test's control: S_eval demonstrations from the uniform distribution,
        rng = random.Random(f"{seed}:ad_uniform")  # drawn after everything else (the other documents stay as they were)
        demos = {b.name: [exec_doc(b, rng, "uniform") for _ in range(max(cfg["ad_demos"]))] for b in by["S_eval"]}
        for n in sorted(set(cfg["ad_demos"])):
            m[f"exec_S_eval_uniform_N{n}"] = [d for b in by["S_eval"] for d in demos[b.name][:n]]
    for name in sorted(m):
        m[name] = list(m[name])
        random.Random(f"{seed}:shuffle:{name}").shuffle(m[name])
    return m


def _item(files, f, b, mode, x, tpl, prompt_text, ans):
    item = dict(id=len(files[f]), domain=b.domain, split=b.split, mode=mode, behaviour=b.name, family=b.family,
                input=x, template=tpl, prompt=prompt_text)
    if b.domain == "programs":
        item.update(answer=ans)
    else:
        item.update(grammar=b.name, chance_validity=b.obj.chance_validity(b.max_len))
    return item


def make_prompts(behs, cfg, seed):
    """Items by file name, each paired with the completion its prompt expects (for the tokenization check)."""
    rng, files, heldout = (random.Random(f"{seed}:eval"), collections.defaultdict(list),
                           cfg["eval_templates"] == "heldout")
    for b in behs:
        if b.split not in HELD_SPLITS:
            continue
        for x in b.eval_inputs if b.domain == "programs" else [None] * cfg["eval_inputs"]:
            x, xt, ans, trace = b.example(rng, None, x)
            tpl, dtpl = T.pick(rng, b.domain, "exec", heldout), T.pick(rng, b.domain, "decl", heldout)
            p = T.prompt(b.domain, tpl, b.name, xt)
            texts = {"implicit": (p, " " + ans), "cot": (p + T.COT_CUE, trace + T.ANSWER_CUE + " " + ans),
                     "incontext": (dtpl.format(name=b.name) + b.instruction + p, " " + ans)}
            for mode in MODES:
                f = f"eval.{b.domain}.{b.split}.{mode}.jsonl"
                files[f].append((_item(files, f, b, mode, x, tpl, texts[mode][0], ans), texts[mode][1]))
        for _ in range(cfg["exec_docs"] if b.split == "S_train" else 0):
            x, xt, ans, _ = b.example(rng, cfg["train_input_dist"])
            tpl, f = T.pick(rng, b.domain, "exec"), f"rl.{b.domain}.S_train.jsonl"
            files[f].append((_item(files, f, b, "implicit", x, tpl, T.prompt(b.domain, tpl, b.name, xt), ans),
                             " " + ans))
    gate_prompts(behs, files, seed)
    return files


def gate_prompts(behs, files, seed):
    """The grammar pretraining's gate (pbb/runner.py): one in-context prompt (the rules, then a pointer) per held-out
    pretraining grammar (split pretrain_val: never trained on), in eval.grammars.pretrain_val.incontext.jsonl. From
    their own seed, after every other item: the other files stay as they were."""
    rng, f = random.Random(f"{seed}:gate"), "eval.grammars.pretrain_val.incontext.jsonl"
    for b in behs:
        if b.domain == "grammars" and b.split == "pretrain_val":
            x, xt, ans, _ = b.example(rng)
            tpl, dtpl = T.pick(rng, b.domain, "exec"), T.pick(rng, b.domain, "decl")
            text = dtpl.format(name=b.name) + b.instruction + T.prompt(b.domain, tpl, b.name, xt)
            files[f].append((_item(files, f, b, "incontext", x, tpl, text, ans), " " + ans))


def shown_strings(docs):
    """{grammar behaviour: the strings its documents show}: the answer of every execution (a CoT trace's
    last sentential form is that answer too), i.e. the text after the last answer cue of an answer segment."""
    out = collections.defaultdict(set)
    for d in docs:
        if d.domain == "grammars" and d.kind != "decl":  # answers: segment 1 of exec docs, 2, 4, ... of pretrain docs
            for text, _ in d.segments[2 if d.kind == "pretrain" else 1::2]:
                out[d.name].add(text.split(T.ANSWER_CUE)[-1].strip())
    return out


def eval_summary(items):
    s = dict(items=len(items))
    answers = collections.Counter(it["answer"] for it in items if "answer" in it)
    if answers:
        top, count = answers.most_common(1)[0]
        s.update(majority_answer=top, majority_accuracy=count / len(items))
    if items and "chance_validity" in items[0]:
        s.update(chance_validity=sum(it["chance_validity"] for it in items) / len(items))
    return s


def build(cfg, config_name, out_dir, seed):
    """Builds into a temporary directory and moves it to out_dir (which must not exist) when complete;
    a failed build leaves nothing behind."""
    tmp = f"{out_dir}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    bar = tqdm(total=7, desc=f"building corpus {config_name}", file=sys.stderr, leave=False, disable=None)
    try:
        _build(cfg, config_name, tmp, seed, bar)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    try:
        os.replace(tmp, out_dir)
    except OSError:  # another process finished the same corpus first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isfile(os.path.join(out_dir, format.MANIFEST)):
            raise
    return out_dir


def _build(cfg, config_name, tmp, seed, bar):
    step = lambda what: (bar.set_postfix_str(what), bar.update(1))
    behs = make_behaviours(cfg, seed)
    step("behaviours")
    mixtures = make_docs(behs, cfg, seed)
    prompts = make_prompts(behs, cfg, seed)
    step("documents")
    splits = collections.defaultdict(list)
    for b in behs:
        splits[b.domain, b.split].append(b.name)
    training = {k: v for k, v in mixtures.items() if not k.endswith("_val")}
    leakage.check(splits, training, {b.name: b.held for b in behs},
                  ad=[k for k in mixtures if k.startswith(("exec_S_eval_N", "exec_S_eval_uniform_N"))])
    step("leakage checks")
    sampled = training  # s_eval_extra, s_train_extra: the documents without them (shuffled as without them)
    if cfg["s_eval_extra"] or cfg["s_train_extra"] or cfg["s_eval_depth3"]:
        sampled = {k: v for k, v in make_docs([b for b in behs if not b.extra], cfg, seed).items()
                   if not k.endswith("_val")}
    unique = list({id(d): d for name, docs in sampled.items() if "_drop" not in name and "_uniform_" not in name
                   for d in docs}.values())  # mixtures kept out of the tokenizer's sample: it stays as without them
    texts = ["".join(t for t, _ in d.segments)
             for d in random.Random(f"{seed}:bpe").sample(unique, min(len(unique), 4000))]
    ranks = tokenizer.train_bpe(texts, cfg["bpe_merges"])
    tok_info = tokenizer.save(ranks, tmp)
    enc = tokenizer.make_encoding(ranks)
    step("tokenizer")
    if cfg["decl_rewrites"] > 1:  # after the tokenizer's sample: it stays as without the rewrites
        mixtures = rewrite_decls(mixtures, behs, cfg, seed)
    if cfg["s_train_execs"] != "both":  # the same: the tokenizer's sample has been taken
        mixtures = reformat_execs(mixtures, behs, cfg)
    if cfg["recall_fact_docs"]:  # the same; pretrain_replay was sampled without them and stays as it was
        rng = random.Random(f"{seed}:recall_fact_docs")
        facts = [d for b in behs if b.split == "recall_pool" for d in fact_docs(b, rng, cfg["recall_fact_docs"])]
        leakage.check(splits, {"pretrain": facts}, {b.name: b.held for b in behs})
        mixtures["pretrain"] = mixtures["pretrain"] + facts
        random.Random(f"{seed}:shuffle:pretrain:facts").shuffle(mixtures["pretrain"])
    denc = tokenizer.DocEncoder(enc)
    every = list({id(d): d for docs in mixtures.values() for d in docs}.values())
    encoded = dict(zip(map(id, every), denc.encode_many([d.segments for d in every])))
    for d in every:
        n = len(encoded[id(d)][0])
        if n > cfg["max_doc_tokens"]:
            raise ValueError(f"a {d.kind} document of {d.name} has {n} tokens > "
                             f"max_doc_tokens={cfg['max_doc_tokens']}; make behaviours smaller "
                             "(fewer statements, rules, pretrain_execs) or raise max_doc_tokens")
    step("encode")
    info = {}
    for name, docs in mixtures.items():
        format.write_docs(tmp, name, [encoded[id(d)] for d in docs])
        lens = [len(encoded[id(d)][0]) for d in docs]
        info[name] = dict(docs=len(docs), tokens=sum(lens), max_doc_tokens=max(lens, default=0),
                          trained_tokens=int(sum(sum(encoded[id(d)][1][1:]) for d in docs)))
    step("mixtures")
    eval_info = {}
    for f, pairs in sorted(prompts.items()):
        for item, completion in pairs:
            p = enc.encode_ordinary(item["prompt"])
            if enc.encode_ordinary(item["prompt"] + completion)[:len(p)] != p:
                raise AssertionError(f"{f} item {item['id']}: the prompt tokenizes differently inside a document; "
                                     f"fix the template {item['template']!r}")
        with open(os.path.join(tmp, f), "w") as fh:
            fh.writelines(json.dumps(item, sort_keys=True) + "\n" for item, _ in pairs)
        eval_info[f] = eval_summary([item for item, _ in pairs])
    shown = shown_strings(d for docs in training.values() for d in docs)
    with open(os.path.join(tmp, "behaviours.json"), "w") as fh:
        json.dump([b.to_json(shown[b.name]) for b in behs], fh, indent=1, sort_keys=True)
    sp = enc._special_tokens
    format.write_manifest(tmp, enc.n_vocab, tokenizer=tok_info, bos=sp["<|bos|>"], eos=sp["<|eos|>"], pad=sp["<|pad|>"],
                          mixtures=info, eval_files=eval_info, config=cfg, config_name=config_name, seed=seed,
                          max_doc_tokens=max(m["max_doc_tokens"] for m in info.values()),
                          splits={dom: {s: splits[dom, s] for s in SPLITS + POOL_SPLITS
                                        if s in SPLITS or (dom, s) in splits}
                                  for dom in cfg["domains"]})
    step("manifest")


def corpus_config(manifest):
    """The config a corpus was built from, keys added to DEFAULTS since the build filled with their defaults (also
    saved in checkpoints, so that a stage is not reused on a corpus rebuilt from another config)."""
    return {**validate({}), **manifest.get("config", {})}


def verify(out, cfg=None, seed=None):
    """The manifest of a complete, unchanged corpus at `out` (built from cfg/seed when given), else CorpusError."""
    manifest = format.open_corpus(out)
    tokenizer.load(out, manifest)
    if (cfg is not None and corpus_config(manifest) != cfg) or (seed is not None and manifest.get("seed") != seed):
        raise format.CorpusError(f"{out} was built from another config or seed; delete it or pass a different --out")
    return manifest


def corpora_dir():
    """Where corpora are built by default: $PBB_CORPORA (the tests point it at a temporary directory, for every process
    they start), else corpora/ in the repository."""
    return os.environ.get("PBB_CORPORA") or os.path.join(REPO, "corpora")


def ensure_corpus(config_path, out_dir=None, seed=None):
    """The corpus directory for this config and seed: built if absent, verified if present."""
    name, cfg = load_config(config_path)
    seed = cfg["seed"] if seed is None else seed
    cfg["seed"] = seed
    out = out_dir or os.path.join(corpora_dir(), f"{name}-s{seed}")
    if os.path.isdir(out) and os.listdir(out):
        verify(out, cfg, seed)
        return out
    if os.path.isdir(out):
        os.rmdir(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    return build(cfg, name, out, seed)


def load_grammars(corpus_dir):
    """{name: Grammar} of every grammar behaviour in a corpus (to judge generated strings)."""
    with open(os.path.join(corpus_dir, "behaviours.json")) as f:
        return {b["name"]: Grammar.from_json(b["grammar"]) for b in json.load(f) if b["domain"] == "grammars"}


def load_trained_strings(corpus_dir):
    """{name: set of strings its training documents show} of every grammar behaviour; {} for corpora built
    before behaviours.json recorded them."""
    with open(os.path.join(corpus_dir, "behaviours.json")) as f:
        return {b["name"]: set(b["trained_strings"]) for b in json.load(f) if "trained_strings" in b}


def load_instructions(corpus_dir):
    """{name: instruction} of every program behaviour in a corpus (what a CoT trace must restate)."""
    with open(os.path.join(corpus_dir, "behaviours.json")) as f:
        return {b["name"]: b["instruction"] for b in json.load(f) if b["domain"] == "programs"}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m data.build", description="Build (or verify) a synthetic PBB corpus.")
    ap.add_argument("config", nargs="?", default=os.path.join(REPO, "configs", "corpus_default.py"))
    ap.add_argument("--out", default=None, help="corpus directory (default corpora/<config>-s<seed>)")
    ap.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    args = ap.parse_args(argv)
    try:
        print(ensure_corpus(args.config, args.out, args.seed))
    except (format.CorpusError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
