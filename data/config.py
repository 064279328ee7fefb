"""Corpus configs: plain Python files (configs/corpus_*.py) whose module-level names override DEFAULTS.

Names starting with '_' and imported modules are ignored; any other unknown name, or a value of
the wrong type, is rejected with one line naming the closest valid key.
"""
import difflib
import json
import os
import types

DEFAULTS = dict(
    seed=0,
    domains=["programs", "grammars"],
    # behaviours per split and domain; pretrain_val behaviours are a held-out part of the pretrain pool
    n_behaviours={"pretrain": 200, "pretrain_val": 20, "S_train": 40, "S_eval": 40, "S_control": 40},
    # programs
    program_families={"arith": 0.6, "cipher": 0.2, "compose": 0.2},
    instruction_form="source",          # "source" | "description": what decl documents of programs show
    # compositions f = g(h(x)) (family compose): "flat" traces name h(x) and g(h(x)) with their values; "nested"
    # traces execute h, then g, each as its own CoT trace (restating its instruction when cot_restates_instruction)
    compose_trace="flat",
    compose_splits=["pretrain", "pretrain_val", "S_train", "S_eval", "S_control", "recall_pool", "pretrain_recall_val"],
    arith_inputs=[0, 9],                # the integer argument's range, inclusive
    arith_mod=10,                       # every arith result is taken mod this
    arith_max_statements=2,
    arith_max_const=9,
    arith_if_prob=0.25,
    cipher_letters=6,                   # inputs use the first cipher_letters lowercase letters
    cipher_len=3,
    cipher_kinds=["shift", "affine", "subst"],
    # grammars
    grammar_nonterminals=3,
    grammar_terminals=4,
    grammar_alternatives=3,             # at most this many alternatives per nonterminal (at least 2)
    grammar_max_rhs=3,
    grammar_nt_prob=0.5,
    grammar_max_len=8,                  # longest string (with grammar_recursive: the bound on sampled and counted
                                        # strings)
    grammar_min_len=1,                  # the shortest string of every grammar has at least this many terminals
    grammar_recursive=False,            # alternatives may use any nonterminal (infinite languages), not only later ones
    grammar_right_linear=False,         # every alternative: 1..grammar_max_rhs terminals, then at most one nonterminal
    grammar_trace="forms",              # CoT derivation lines: "forms" (sentential forms) | "rules" (the rule applied)
                                        # | "rule_form" (both)
    grammar_min_strings=6,              # at least this many strings of at most grammar_max_len terminals
    grammar_max_strings=5000,           # at most this many (and no nonterminal derives more)
    # inputs and documents (counts are per behaviour)
    eval_inputs=3,                      # held-out evaluation inputs (programs) / eval prompts (grammars)
    train_input_dist="uniform",         # "uniform" | "skewed": distribution of trained exec inputs (OOD test)
    eval_input_dist="uniform",          # "uniform" | "tail": held-out eval inputs from all inputs, or from the half
                                        # that "skewed" makes rarest (data.programs.rare_inputs; the OOD test)
    decl_docs=40,
    decl_val_docs=2,
    exec_docs=20,
    exec_cot_docs=10,
    pretrain_docs=10,
    pretrain_val_docs=2,
    pretrain_execs=4,                   # executions inside one pretrain document
    pretrain_cot_prob=0.2,              # fraction of pretrain documents whose executions are CoT
    pretrain_cot_execs=1,               # executions inside one CoT pretrain document
    grammar_pretrain_execs=0,           # the same two counts for grammar documents (whose derivations are
    grammar_pretrain_cot_execs=0,       # longer); 0 = pretrain_execs / pretrain_cot_execs
    pretrain_prompt_weight=1.0,         # loss weight of pretrain text other than answers and traces
    # recall pool (programs): behaviours whose source is declared in some pretraining documents and executed
    # by CoT in *other* ones (no instruction in context), so the base model learns to recall a source from its
    # weights; pretrain_recall_val behaviours are declared only, and evaluated like S_eval (the base model's
    # recall check). All of it joins the `pretrain` mixture. 0 = off (pretraining as before).
    recall_pool=0,                      # behaviours with declarations and separate CoT executions
    recall_pool_val=40,                 # behaviours with declarations only (split pretrain_recall_val)
    recall_decl_docs=10,                # declaration documents per behaviour (both pool splits)
    recall_exec_docs=10,                # CoT execution documents per recall_pool behaviour
    recall_direct_docs=0,               # direct execution documents per recall_pool behaviour
    recall_fact_docs=0,                 # fact documents per recall_pool behaviour (arith, no if): a part of the
                                        # function or all of it, stated without its source in one of templates.FACTS's
                                        # forms (the operator, the constant, the steps in words or as one expression,
                                        # the name first or last), so that the name is where it is retrieved
                                        # (Allen-Zhu & Li,
                                        # arXiv 2309.14316; docs/implicit.md). Added to `pretrain` after the
                                        # tokenizer's sample: same tokenizer, curriculum documents, pretrain_replay
                                        # and eval items as without; pretraining sees them. 0 = none.
    recall_pool_domain="programs",      # the domain of the recall pool's behaviours: "programs" | "grammars"
    cot_restates_instruction=True,      # programs: a CoT trace starts by restating the instruction
    # stepwise internalisation of the CoT (experiments/internalise.py): for each k, the mixture
    # exec_cot_S_train_drop{k} holds S_train's CoT executions (the same documents) with the first k parts of the
    # trace removed: part 1 the restated instruction, then one trace line per part (k past the end: an empty
    # trace; a nested composition trace's parts include its callees' source lines). They stay out of the
    # tokenizer's training sample: same tokenizer and pretraining as without.
    cot_internalise=[],
    # declaration augmentation (Allen-Zhu & Li, arXiv 2309.14316): S_train's and S_eval's declaration documents
    # show, in turn, the source and decl_rewrites - 1 distinct equivalent rewrites of it (renamed locals, commuted
    # operands, the modulo split off or the last statement inlined: programs.Arith.rewrite), each checked against
    # the source on every input. Applied after the tokenizer is trained: same tokenizer, pretraining documents
    # and eval items as without. CoT traces and in-context prompts keep the source. 1 = the source only.
    decl_rewrites=1,
    # how S_train's executions look in every curriculum mixture: "both" (direct answers and CoT traces that restate
    # the instruction when cot_restates_instruction), "direct" (direct answers only), "cot" (CoT only),
    # "both_nosource" (direct answers and CoT traces without the restated instruction: the trace lines only).
    # Applied after the tokenizer is trained (dropping or cutting documents): same tokenizer, pretraining
    # documents and eval items as "both".
    s_train_execs="both",
    # more S_eval behaviours (programs), for narrower paired intervals: drawn after every other behaviour (but
    # s_train_extra's) from their own seed, their documents from their own seed too, kept out of the tokenizer's
    # sample, and their eval items appended after the others: same tokenizer, pretraining documents, S_train documents
    # and first S_eval eval items as without. They join S_eval everywhere (declarations, AD demonstrations, eval
    # files). 0 = none.
    s_eval_extra=0,
    # more S_train behaviours (programs), for the questions that need many training functions (implicit execution,
    # docs/implicit.md): drawn after every other behaviour (s_eval_extra's too) from their own seed, with families
    # from s_train_extra_families ({}: program_families; a compose behaviour composes two earlier extra ones of one
    # plain family, so compose needs a plain family beside it), their documents from their own seed, kept out of the
    # tokenizer's sample, and their eval items and RL prompts appended after the others: same tokenizer, pretraining
    # documents, S_eval and S_control behaviours and documents, and first S_train eval items as without. They join
    # S_train everywhere (declarations, direct and CoT executions, eval and RL files). 0 = none. Their names are drawn
    # after every name in use, s_eval_extra's included, so with s_eval_extra set they are other functions (the same
    # distribution, another draw) than with s_train_extra alone.
    s_train_extra=0,
    s_train_extra_families={},
    # True: s_train_extra's functions are drawn as if s_eval_extra were 0 (the same functions, held-out inputs and
    # documents with and without it; their eval and RL prompts are other draws; a name that an s_eval_extra function
    # has too fails the build in one line). A composition of either that becomes a plain function (no training input
    # left) draws from the same stream as in the corpus without the other, so an S_train and an S_eval extra can be
    # the same function under two names (two in configs/corpus_compose_many_powered_alone.py). False (the default,
    # and every corpus built before this key): drawn after the s_eval_extra ones, so other functions when it is set.
    s_train_extra_alone=False,
    # depth-3 compositions f(x) = g(h(k(x))) of three plain S_eval functions (family compose3, eval.py's split
    # S_eval/compose3), all parts only read: drawn after every other behaviour from their own seed, declared in S_eval
    # like the s_eval_extra behaviours (their documents from their own seed, kept out of the tokenizer's sample, their
    # eval items appended): same tokenizer, pretraining documents, S_train documents and first S_eval eval items as
    # without. With compose_trace "nested" a trace restates k, h and g in turn. 0 = none.
    s_eval_depth3=0,
    ad_demos=[1, 3, 10, 30, 100],       # N of the exec_S_eval_N{N} mixtures (algorithm distillation)
    ad_uniform_control=False,           # also exec_S_eval_uniform_N{N}: the demonstrations from the uniform input
                                        # distribution whatever train_input_dist (the OOD test's control); kept out of
                                        # the tokenizer's sample: same tokenizer, pretraining and eval items as without
    replay_fraction=0.1,
    pretrain_replay_docs=500,           # size of the pretrain_replay mixture (a sample of pretrain documents)
    eval_templates="train",             # "train" | "heldout": pointer templates of the eval prompts
    bpe_merges=300,
    max_doc_tokens=256,                 # the build fails if a document is longer
)
CHOICES = {"instruction_form": ("source", "description"), "grammar_trace": ("forms", "rules", "rule_form"),
           "compose_trace": ("flat", "nested"), "train_input_dist": ("uniform", "skewed"),
           "recall_pool_domain": ("programs", "grammars"), "eval_input_dist": ("uniform", "tail"),
           "eval_templates": ("train", "heldout")}
SPLITS = ("pretrain", "pretrain_val", "S_train", "S_eval", "S_control")
S_TRAIN_EXECS = ("both", "direct", "cot", "both_nosource")  # values of s_train_execs
POOL_SPLITS = ("recall_pool", "pretrain_recall_val")  # behaviours of the recall pool (recall_pool_domain), when
                                                      # recall_pool > 0


def _same_type(value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, (list, tuple)) and all(_same_type(v, default[0] if default else 0) for v in value)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(k, str) and _same_type(v, 1.0) for k, v in value.items())
    return isinstance(value, type(default))


def validate(overrides, where="config"):
    cfg = json.loads(json.dumps(DEFAULTS))
    for key, value in overrides.items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(sorted(DEFAULTS))}"
            raise ValueError(f"{where}: unknown corpus config key '{key}'; {hint}")
        if not _same_type(value, DEFAULTS[key]):
            raise ValueError(f"{where}: '{key}' must be like {DEFAULTS[key]!r}, got {value!r}")
        if key in CHOICES and value not in CHOICES[key]:
            raise ValueError(f"{where}: '{key}' must be one of {CHOICES[key]}, got {value!r}")
        cfg[key] = json.loads(json.dumps(value))
    bad = [d for d in cfg["domains"] if d not in ("programs", "grammars")]
    bad += [s for s in cfg["n_behaviours"] if s not in SPLITS] + [s for s in SPLITS if s not in cfg["n_behaviours"]]
    bad += [f for f in {**cfg["program_families"], **cfg["s_train_extra_families"]}
            if f not in ("arith", "cipher", "compose")]
    bad += [k for k in cfg["cipher_kinds"] if k not in ("shift", "affine", "subst")]
    bad += [s for s in cfg["compose_splits"] if s not in SPLITS + POOL_SPLITS]
    if bad:
        raise ValueError(f"{where}: unknown name(s) {bad}: domains are programs/grammars, "
                         f"n_behaviours needs exactly {SPLITS}, "
                         "families arith/cipher/compose, cipher_kinds shift/affine/subst, "
                         f"compose_splits from {SPLITS + POOL_SPLITS}")
    if len(cfg["arith_inputs"]) != 2 or cfg["arith_inputs"][0] > cfg["arith_inputs"][1]:
        raise ValueError(f"{where}: arith_inputs must be [lo, hi] with lo <= hi, got {cfg['arith_inputs']}")
    lo, hi = cfg["arith_inputs"]
    n_inputs = min(hi - lo + 1, cfg["cipher_letters"] ** cfg["cipher_len"])
    if cfg["eval_inputs"] < 1 or cfg["eval_inputs"] > n_inputs - 2:
        raise ValueError(f"{where}: eval_inputs={cfg['eval_inputs']} must be between 1 and {n_inputs - 2} "
                         "(the smallest input space minus two, to leave training inputs)")
    if cfg["eval_input_dist"] == "tail" and cfg["eval_inputs"] > n_inputs - n_inputs // 2:
        raise ValueError(f"{where}: eval_input_dist='tail' draws eval_inputs from the rarer half of the inputs "
                         f"({n_inputs - n_inputs // 2}); lower eval_inputs={cfg['eval_inputs']} or widen arith_inputs")
    if not 2 <= cfg["cipher_letters"] <= 26 or cfg["cipher_letters"] ** cfg["cipher_len"] > 100000:
        raise ValueError(f"{where}: cipher_letters must be 2..26 and cipher_letters**cipher_len at most 100000")
    if (cfg["grammar_alternatives"] < 2 or not 1 <= cfg["grammar_terminals"] <= 26
            or not 1 <= cfg["grammar_nonterminals"] <= 25):
        raise ValueError(f"{where}: need grammar_alternatives >= 2, 1..26 grammar_terminals, "
                         "1..25 grammar_nonterminals")
    if not 1 <= cfg["grammar_min_len"] <= cfg["grammar_max_len"]:
        raise ValueError(f"{where}: need 1 <= grammar_min_len <= grammar_max_len, "
                         f"got {cfg['grammar_min_len']} and {cfg['grammar_max_len']}")
    if cfg["recall_pool"] > 0 and (cfg["recall_pool_val"] < 1 or cfg["recall_pool_domain"] not in cfg["domains"]):
        raise ValueError(f"{where}: a recall_pool needs recall_pool_val >= 1 and its recall_pool_domain "
                         f"({cfg['recall_pool_domain']!r}) among the domains")
    if min(cfg[k] for k in ("recall_pool", "recall_decl_docs", "recall_exec_docs", "recall_direct_docs",
                                "grammar_pretrain_execs", "grammar_pretrain_cot_execs")) < 0:
        raise ValueError(f"{where}: recall_* and grammar_pretrain_* counts must be >= 0")
    if cfg["recall_fact_docs"] < 0 or (cfg["recall_fact_docs"] and (
            not cfg["recall_pool"] or cfg["recall_pool_domain"] != "programs"
            or set(cfg["program_families"]) != {"arith"} or cfg["arith_if_prob"] > 0)):
        raise ValueError(f"{where}: recall_fact_docs must be >= 0, and above 0 it needs a recall_pool of programs, "
                         "program_families of arith only and arith_if_prob = 0 (the facts state arith functions "
                         f"without an if), got {cfg['recall_fact_docs']}")
    if min(cfg["cot_internalise"], default=1) < 1 or (cfg["cot_internalise"] and "programs" not in cfg["domains"]):
        raise ValueError(f"{where}: cot_internalise values must be >= 1 (parts of the trace removed), "
                         "with the programs domain")
    arith_only = set(cfg["program_families"]) | set(cfg["s_train_extra_families"] if cfg["s_train_extra"] else ()) \
        == {"arith"}
    if cfg["decl_rewrites"] != 1 and (cfg["decl_rewrites"] < 1 or cfg["instruction_form"] != "source"
                                      or "programs" not in cfg["domains"] or not arith_only):
        raise ValueError(f"{where}: decl_rewrites must be >= 1, and above 1 it needs instruction_form='source' and "
                         "program_families (and s_train_extra_families) of arith only (rewrites exist for arith "
                         "sources), "
                         f"got {cfg['decl_rewrites']}")
    if cfg["s_train_execs"] not in S_TRAIN_EXECS or (cfg["s_train_execs"] != "both" and (
            cfg["domains"] != ["programs"] or cfg["cot_internalise"]
            or (cfg["s_train_execs"] == "both_nosource" and not cfg["cot_restates_instruction"]))):
        raise ValueError(f"{where}: s_train_execs must be one of {', '.join(S_TRAIN_EXECS)}; other than 'both' it "
                         "needs domains = ['programs'] and no cot_internalise ('both_nosource' also "
                         f"cot_restates_instruction), got {cfg['s_train_execs']!r}")
    if cfg["s_eval_extra"] < 0 or (cfg["s_eval_extra"] and "programs" not in cfg["domains"]):
        raise ValueError(f"{where}: s_eval_extra must be >= 0, and above 0 it needs the programs domain, got "
                         f"{cfg['s_eval_extra']} with domains {cfg['domains']}")
    if cfg["s_train_extra"] < 0 or (cfg["s_train_extra"] and "programs" not in cfg["domains"]):
        raise ValueError(f"{where}: s_train_extra must be >= 0, and above 0 it needs the programs domain, got "
                         f"{cfg['s_train_extra']} with domains {cfg['domains']}")
    if cfg["s_eval_depth3"] < 0 or (cfg["s_eval_depth3"] and "programs" not in cfg["domains"]):
        raise ValueError(f"{where}: s_eval_depth3 must be >= 0, and above 0 it needs the programs domain, got "
                         f"{cfg['s_eval_depth3']} with domains {cfg['domains']}")
    fams = cfg["s_train_extra_families"]
    if "compose" in fams and ("S_train" not in cfg["compose_splits"] or not {"arith", "cipher"} & set(fams)):
        raise ValueError(f"{where}: compose in s_train_extra_families needs S_train in compose_splits and a plain "
                         f"family (arith or cipher) beside it to compose, got {fams}")
    if min(cfg["ad_demos"], default=1) < 1 or min(cfg["n_behaviours"].values()) < 1:
        raise ValueError(f"{where}: ad_demos and n_behaviours values must be >= 1")
    return cfg


def load_config(path):
    """(name, cfg) from a corpus config file; name is the file name without .py."""
    if not os.path.isfile(path):
        raise ValueError(f"corpus config {path} not found; pass a file like configs/corpus_default.py")
    ns = {}
    try:
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), ns)
    except Exception as e:
        raise ValueError(f"{path} does not run as Python ({type(e).__name__}: {e}); fix the file")
    overrides = {k: v for k, v in ns.items() if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    return os.path.basename(path)[:-3] if path.endswith(".py") else os.path.basename(path), validate(overrides, path)
