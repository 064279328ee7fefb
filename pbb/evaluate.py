"""Evaluation of a checkpoint on the eval prompts of its corpus (eval.py is its command line).

For every domain x split (S_train on held-out inputs, S_eval, S_control; and on request
pretrain_recall_val, the recall pool's declared-only behaviours, or pretrain_val, the held-out pretraining grammars of
the grammar pretraining's gate, in-context only) x mode (implicit, cot, incontext)
present in the corpus (files eval.DOMAIN.SPLIT.MODE.jsonl, see data/build.py), and on request (--modes) for grammars
mode incontext_cot: the in-context prompts followed by the CoT cue, judged as CoT (the base model's derivation
from rules in its context, when pretraining taught derivations and no direct strings):
  programs  `accuracy`: exact match of parse_completion(completion, mode) with the item's answer,
            greedy decoding; n = number of items. Beside it `majority_baseline`: the accuracy of
            always answering the most common answer of that file (from the corpus manifest).
            CoT mode also `instruction_recall`: the fraction of completions whose trace begins with
            the behaviour's exact instruction (a CoT trace restates it before executing it), i.e.
            whether the instruction was retrieved; accuracy then also needs the execution right.
            (Not for corpora built with cot_restates_instruction = False.)
            A split that mixes program families also gets each family's rows as split SPLIT/FAMILY
            (accuracy, majority_baseline recounted from its items, instruction_recall), and with nested
            composition traces (compose_trace = "nested") SPLIT/compose CoT also `callee_recall`: the
            fraction of traces that restate f, then h's exact source, and later g's (f = g(h(x))).
  grammars  `samples` completions per prompt at temperature 1 (torch.Generator seeded with the
            checkpoint's seed and the file name); n = items x samples.
            `validity`: fraction of sampled strings the grammar's recognizer accepts.
            `distinct`: for each grammar, the number of distinct valid strings (answers compared
            with runs of spaces made single) among all its samples (over all its prompts); summed
            over grammars and divided by n. 1.0 means every sample was valid and different from
            the others of its grammar.
            `novelty`: fraction of sampled strings that are valid and not among the strings any
            training document *of the corpus* shows for that grammar (behaviours.json trained_strings,
            whatever the checkpoint itself trained on; S_eval's come from the algorithm-distillation
            demos at the largest N, which only AD trains on; S_control has none); absent for
            corpora built before the record.
            Beside them two exact baselines, from the grammars alone (n = grammars, ci = value):
            `constant_baseline`: the validity of the best single answer for the whole split (the
            string, of at most grammar_max_len terminals, that the most of its grammars accept);
            `cross_grammar_baseline`: the validity of answering with a uniformly random string of
            another grammar of the split (mean over ordered pairs of grammars; strings of at most
            grammar_max_len terminals). Compare validity with them and with items' chance_validity.
Each other value comes with a Wilson 95% interval (for `distinct` treated as a proportion of n too).
A prompt that leaves no room to generate within block_size gets an empty completion (judged
wrong or invalid) and a warning on stderr.
eval.json is a list of rows {curriculum, domain, split, mode, metric, value, ci_low, ci_high, n, seed};
eval_items.json beside it holds every item's score (see items_path), for paired comparisons.
"""
import collections
import json
import math
import os
import re
import sys
import zlib

import torch

from data.build import EVAL_SPLITS, HELD_SPLITS, MODES, load_grammars, load_instructions, load_trained_strings
from data.format import open_corpus
from data.grammars import constant_baseline, cross_grammar_baseline
from data.templates import COT_CUE, parse_completion
from data.tokenizer import encode_prompt
from data.tokenizer import load as load_tokenizer
from pbb.batches import open_data
from pbb.checkpoint import load_model, tokenizer_id
from pbb.common import UserError, resolve_device

DOMAINS = ("programs", "grammars")
DERIVED = {"incontext_cot": "incontext"}  # a mode read from another mode's file: its prompts + the CoT cue (grammars)
ROW_KEYS = ("curriculum", "domain", "split", "mode", "metric", "value", "ci_low", "ci_high", "n", "seed")


def wilson(k, n, z=1.959964):
    """Wilson score 95% interval of k successes in n trials; (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    mid, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def default_max_new_tokens(manifest, mode):
    """The longest training document of the matching exec kind: an answer (or trace) never needs more. When
    S_train's traces were cut of their source (s_train_execs "both_nosource"), a CoT trace may still restate one
    (as pretraining taught): room for the longest declaration too."""
    mixtures = manifest.get("mixtures", {})
    info = mixtures.get("exec_cot_S_train" if mode == "cot" else "exec_S_train") or {}
    extra = 0
    if mode == "cot" and manifest.get("config", {}).get("s_train_execs") == "both_nosource":
        extra = (mixtures.get("decl_S_train_S_eval") or {}).get("max_doc_tokens", 0)
    return int(info.get("max_doc_tokens") or manifest.get("max_doc_tokens") or 256) + extra


def generate_texts(model, enc, prompts, max_new_tokens, temperature, batch_size, eos, generator=None, bar=None):
    """(completions, number skipped): the decoded completions (eos cut off) of `prompts` (texts), in
    order. A prompt of L tokens generates at most min(max_new_tokens, block_size + 1 - L) tokens, the
    most generate() allows; one with no room is skipped (empty completion). Prompts are sorted by
    length and batched; a batch holds prompts of one such cap, so no batch changes any completion."""
    tokens = [encode_prompt(enc, p) for p in prompts]
    cap = [min(max_new_tokens, model.config.block_size + 1 - len(t)) for t in tokens]
    order = [i for i in sorted(range(len(tokens)), key=lambda i: len(tokens[i])) if cap[i] >= 1]
    out = [""] * len(tokens)
    while order:
        batch = [i for i in order[:batch_size] if cap[i] == cap[order[0]]]
        order = order[len(batch):]
        new = model.generate([tokens[i] for i in batch], cap[batch[0]], temperature=temperature, stop_token=eos,
                             generator=generator)
        for i, t in zip(batch, new):
            out[i] = enc.decode(t)
        if bar is not None:
            bar.update(len(batch))
    skipped = sum(c < 1 for c in cap)
    if bar is not None:
        bar.update(skipped)
    return out, skipped


def read_items(data_dir, domain, split, mode):
    with open(os.path.join(data_dir, f"eval.{domain}.{split}.{mode}.jsonl")) as f:
        return [json.loads(line) for line in f]


def row(curriculum, seed, domain, split, mode, metric, k, n, value=None):
    """One eval.json row: value k / n (unless given) with the Wilson interval of k in n."""
    if value is None:
        value = k / n if n else 0.0
    lo, hi = wilson(k, n)
    return dict(curriculum=curriculum, domain=domain, split=split, mode=mode, metric=metric,
                value=value, ci_low=lo, ci_high=hi, n=n, seed=seed)


def judge(domain, items, texts, mode, samples, grammars, instructions=None, trained=None):
    """(metric, successes) pairs, one example per item: (prompt, model answer, verdict), and each item's
    score (programs: 1.0 if exact, else 0.0; grammars: the fraction of its samples that are valid).
    trained: {grammar: strings its training documents show}, for `novelty` (none without it)."""
    if domain == "programs":
        answers = [parse_completion(t, mode) for t in texts]
        per_item = [float(a == it["answer"]) for a, it in zip(answers, items)]
        scores = [("accuracy", int(sum(per_item)))]
        if mode == "cot" and instructions:
            recalled = sum(t.startswith(instructions[it["behaviour"]]) for t, it in zip(texts, items))
            scores.append(("instruction_recall", recalled))
        return scores, [(it["prompt"], a, f"expected {it['answer']!r}") for it, a in zip(items, answers)], per_item
    answers = [" ".join(parse_completion(t, mode).split()) for t in texts]  # samples consecutive answers per item
    valid = [grammars[items[i // samples]["grammar"]].is_valid(a) for i, a in enumerate(answers)]
    distinct = collections.defaultdict(set)
    for i, (a, ok) in enumerate(zip(answers, valid)):
        if ok:
            distinct[items[i // samples]["grammar"]].add(a)
    examples = [(it["prompt"], answers[j * samples], "valid" if valid[j * samples] else "not in the language")
                for j, it in enumerate(items)]
    per_item = [sum(valid[j * samples:(j + 1) * samples]) / samples for j in range(len(items))]
    scores = [("validity", sum(valid)), ("distinct", sum(len(s) for s in distinct.values()))]
    if trained:
        scores.append(("novelty", sum(ok and a not in trained[items[i // samples]["grammar"]]
                                      for i, (a, ok) in enumerate(zip(answers, valid)))))
    return scores, examples, per_item


def callees_restated(text, name, instructions):
    """Whether a CoT completion for the composition `name` (source `return g(h(x))`, or `g(h(k(x)))`) restates its
    source, then the first callee's (h; k), and later each other callee's in the order they run, as a nested trace
    does (data.build Behaviour.cot)."""
    parts = callee_parts(name, instructions)
    if not parts:
        return False
    head = instructions[name] + instructions[parts[0]]
    if not text.startswith(head):
        return False
    at = len(head)
    for p in parts[1:]:
        at = text.find(instructions[p], at)
        if at < 0:
            return False
        at += len(instructions[p])
    return True


def callee_parts(name, instructions):
    """The callees of the composition `name` in the order they run ([h, g] for `return g(h(x))`), or None."""
    m = re.search(r"return ((?:\w+\()+)\w+\)+\n", instructions[name])
    names = m[1].split("(")[-2::-1] if m else []
    return names if len(names) >= 2 and all(n in instructions for n in names) else None


def run_instruction(name, instructions, x):
    """The plain function name's source, exec'd, run on x (the independent reference)."""
    ns = {}
    exec(instructions[name], ns)
    return ns[name](x)


def callee_placement(model, enc, its, texts, correct, instructions, n_new, batch_size, eos, generator):
    """Where each composition f = g(h(x)) of a CoT eval file fails. Per item: f restated, h restated right after
    it, g named later (`def g(`, right body or not), the first function written after h's part when it is not g: one of
    the corpus, any split's (`g_other`) or a name the corpus has none of (`g_invented`; a trace that writes another
    function first and g later counts there and in g named too), g restated later, g's trace
    starting from h's output (`x = h(x)`, the chain; arith callees only), and each callee's own CoT answer on the
    same input (h on x, g on h(x); prompts written from the item's by swapping the call), then the item placed:
    `lookup` (h or g not restated), `execution` (both restated, a callee wrong alone) or `chaining` (both restated
    and right alone, f wrong). Returns {metric: [0/1 per item]}; the caller makes rows.
    """
    parts = [callee_parts(it["behaviour"], instructions)[::-1] for it in its]  # (g, h)
    mids = [run_instruction(h, instructions, it["input"]) for it, (g, h) in zip(its, parts)]
    swap = lambda it, name, x: it["prompt"].replace(f"{it['behaviour']}({it['input']!r})", f"{name}({x!r})", 1)
    prompts = [swap(it, h, it["input"]) for it, (g, h) in zip(its, parts)]
    prompts += [swap(it, g, mid) for it, (g, h), mid in zip(its, parts, mids)]
    alone, _ = generate_texts(model, enc, prompts, n_new, 0.0, batch_size, eos, generator)
    out = collections.defaultdict(list)
    for i, (it, text, (g, h), mid) in enumerate(zip(its, texts, parts, mids)):
        head = instructions[it["behaviour"]] + instructions[h]
        rest = text[len(head):] if text.startswith(head) else ""
        at = rest.find(instructions[g])
        h_alone = parse_completion(alone[i], "cot") == repr(mid)
        g_alone = parse_completion(alone[len(its) + i], "cot") == repr(run_instruction(g, instructions, mid))
        looked_up = text.startswith(head) and at >= 0
        first = re.search(r"def (\w+)\(", rest)  # the first function the trace writes after h's part
        instead = first[1] if first and first[1] != g else None
        if isinstance(mid, int):  # an arith g's trace opens with its input; a cipher's has no such line
            out["chain_input"].append(float(looked_up and rest[at + len(instructions[g]):].startswith(f"x = {mid}\n")))
        for metric, ok in (("f_restated", text.startswith(instructions[it["behaviour"]])),
                           ("h_restated", text.startswith(head)), ("g_named", f"def {g}(" in rest),
                           ("g_other", instead in instructions),
                           ("g_invented", instead is not None and instead not in instructions),
                           ("g_restated", looked_up),
                           ("h_alone", h_alone), ("g_alone", g_alone),
                           ("fail_lookup", not correct[i] and not looked_up),
                           ("fail_execution", not correct[i] and looked_up and not (h_alone and g_alone)),
                           ("fail_chaining", not correct[i] and looked_up and h_alone and g_alone)):
            out[metric].append(float(ok))
    return out


def open_checkpoint_corpus(ckpt, data_dir=None):
    """(data dir, manifest) of the corpus to evaluate on, refused when its tokenizer is not the checkpoint's."""
    if data_dir:
        if not os.path.isdir(data_dir):
            raise UserError(f"--data_dir {data_dir} does not exist")
        manifest = open_corpus(data_dir)
    else:
        data_dir, manifest = open_data(ckpt["config"])
    if tokenizer_id(manifest) != ckpt.get("tokenizer_id"):
        raise UserError(f"the checkpoint's tokenizer is not the one of corpus {data_dir}; "
                              "evaluate on the corpus it was trained on (--data_dir)")
    return data_dir, manifest


def evaluate(ckpt_path, splits=EVAL_SPLITS, modes=MODES, domains=DOMAINS, samples=5, curriculum=None,
             device="auto", data_dir=None, batch_size=64, max_new_tokens=0, out_path=None, progress=True,
             n_examples=3, log=print):
    """Evaluates the checkpoint; returns the eval.json rows (and writes them to out_path, default
    eval.json beside the checkpoint; out_path='' writes nothing)."""
    for name, given, allowed in (("split", splits, HELD_SPLITS + ("pretrain_val",)),
                                 ("mode", modes, MODES + tuple(DERIVED)), ("domain", domains, DOMAINS)):
        bad = [g for g in given if g not in allowed]
        if bad or not given:
            raise UserError(f"{name}s {','.join(bad) or '(none)'}: choose from {','.join(allowed)}")
    if samples < 1 or batch_size < 1:
        raise UserError("--samples and --batch_size must be at least 1")
    if out_path:  # before the work, so that a path that cannot be written loses nothing
        try:
            os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create the directory of --out {out_path} ({e.strerror}); pass a writable path")
    device = resolve_device(device)
    model, ckpt = load_model(ckpt_path, device)
    cfg = ckpt["config"]
    data_dir, manifest = open_checkpoint_corpus(ckpt, data_dir)
    enc = load_tokenizer(data_dir, manifest)
    curriculum = curriculum or os.path.basename(os.path.normpath(cfg["out_dir"]))
    seed = cfg["seed"]
    grammars = load_grammars(data_dir) if "grammars" in domains else {}
    restated = manifest["config"].get("cot_restates_instruction", True)  # else CoT traces skip the instruction
    instructions = load_instructions(data_dir) if "programs" in domains and restated else {}
    cc = manifest["config"]
    nested = cc.get("compose_trace") == "nested" and cc.get("instruction_form") == "source"
    trained = load_trained_strings(data_dir) if "grammars" in domains else {}
    max_len = manifest.get("config", {}).get("grammar_max_len", 8)  # the length bound of the grammar baselines
    baselines = {}  # by split: they depend on its grammars only

    jobs = [(d, s, m) for d in domains for s in splits for m in modes
            if f"eval.{d}.{s}.{DERIVED.get(m, m)}.jsonl" in manifest["files"] and (m not in DERIVED or d == "grammars")]
    if not jobs:
        raise UserError(f"corpus {data_dir} has no eval files for these domains, splits and modes")
    items = {(d, s, m): read_items(data_dir, d, s, DERIVED.get(m, m)) for d, s, m in jobs}
    total = sum(len(v) * (samples if job[0] == "grammars" else 1) for job, v in items.items())
    from tqdm import tqdm
    bar = tqdm(total=total, desc="generating", unit="seq", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    rows, examples, too_long, per_item = [], collections.defaultdict(list), 0, {}
    for domain, split, mode in jobs:
        its = items[domain, split, mode]
        k = samples if domain == "grammars" else 1
        cue, judged_as = (COT_CUE, "cot") if mode in DERIVED else ("", mode)
        prompts = [it["prompt"] + cue for it in its for _ in range(k)]
        n_new = max_new_tokens or default_max_new_tokens(manifest, judged_as)
        # one generator per file, so a file's samples do not depend on which other files are evaluated
        file_seed = seed * 1_000_003 + zlib.crc32(f"{domain}.{split}.{mode}".encode())
        generator = torch.Generator(device=device).manual_seed(file_seed)
        texts, skipped = generate_texts(model, enc, prompts, n_new, 1.0 if domain == "grammars" else 0.0,
                                        batch_size, manifest["eos"], generator, bar)
        too_long += skipped
        key = f"{domain}.{split}.{mode}"
        scores, ex, per_item[key] = judge(domain, its, texts, judged_as, k, grammars, instructions, trained)
        per_item[f"{domain}.{split}.{mode}.behaviour"] = [it["behaviour"] for it in its]
        eval_file = f"eval.{domain}.{split}.{DERIVED.get(mode, mode)}.jsonl"
        per_item.setdefault("_files", {})[key] = manifest["files"][eval_file]
        for metric, successes in scores:
            rows.append(row(curriculum, seed, domain, split, mode, metric, successes, len(prompts)))
        families = sorted({it.get("family") for it in its} - {None})
        if domain == "programs" and len(families) > 1:  # a split of several families: each one's accuracy too,
            key = f"{domain}.{split}.{mode}"             # as split SPLIT/FAMILY (e.g. S_eval/compose)
            for fam in families:
                pick = [i for i, it in enumerate(its) if it.get("family") == fam]
                per_item[f"{domain}.{split}/{fam}.{mode}"] = [per_item[key][i] for i in pick]
                per_item[f"{domain}.{split}/{fam}.{mode}.behaviour"] = [its[i]["behaviour"] for i in pick]
                rows.append(row(curriculum, seed, domain, f"{split}/{fam}", mode, "accuracy",
                                int(sum(per_item[key][i] for i in pick)), len(pick)))
                answers = collections.Counter(its[i]["answer"] for i in pick)
                rows.append(row(curriculum, seed, domain, f"{split}/{fam}", mode, "majority_baseline",
                                answers.most_common(1)[0][1], len(pick)))
                if mode == "cot" and instructions:
                    rows.append(row(curriculum, seed, domain, f"{split}/{fam}", mode, "instruction_recall",
                                    sum(texts[i].startswith(instructions[its[i]["behaviour"]]) for i in pick),
                                    len(pick)))
                if mode == "cot" and instructions and fam in ("compose", "compose3") and nested:
                    rows.append(row(curriculum, seed, domain, f"{split}/{fam}", mode, "callee_recall",
                                    sum(callees_restated(texts[i], its[i]["behaviour"], instructions) for i in pick),
                                    len(pick)))
                if mode == "cot" and instructions and fam == "compose" and nested:
                    placed = callee_placement(model, enc, [its[i] for i in pick], [texts[i] for i in pick],
                                              [per_item[key][i] for i in pick], instructions, n_new, batch_size,
                                              manifest["eos"], generator)
                    for metric, scores in placed.items():
                        per_item[f"{domain}.{split}/{fam}.{mode}.{metric}"] = scores
                        rows.append(row(curriculum, seed, domain, f"{split}/{fam}", mode, metric, int(sum(scores)),
                                        len(scores)))
        if domain == "programs":
            info = manifest.get("eval_files", {}).get(f"eval.{domain}.{split}.{mode}.jsonl", {})
            if "majority_accuracy" in info:
                n = int(info["items"])
                rows.append(row(curriculum, seed, domain, split, mode, "majority_baseline",
                                round(info["majority_accuracy"] * n), n, value=info["majority_accuracy"]))
        else:
            gs = [grammars[name] for name in sorted({it["grammar"] for it in its})]
            if split not in baselines:
                baselines[split] = [("constant_baseline", constant_baseline(gs, max_len)[0]),
                                    ("cross_grammar_baseline", cross_grammar_baseline(gs, max_len))]
            for metric, value in baselines[split]:  # exact: no interval
                rows.append(dict(row(curriculum, seed, domain, split, mode, metric, 0, len(gs), value),
                                 ci_low=value, ci_high=value))
        if mode == modes[0]:
            examples[domain].append((split, mode, ex[0]))
    bar.close()
    if too_long:
        print(f"warning: {too_long} prompts do not fit block_size={model.config.block_size}; "
              "they were scored as wrong", file=sys.stderr)
    if log:
        log(format_table(rows))
        log(format_examples(examples, n_examples))
    if out_path is None:
        out_path = os.path.join(os.path.dirname(os.path.abspath(ckpt_path)), "eval.json")
    if out_path:
        for path, obj in ((out_path, rows), (items_path(out_path), per_item)):
            with open(path + ".tmp", "w") as f:
                json.dump(obj, f, indent=1 if obj is rows else None)
            os.replace(path + ".tmp", path)
        if log:
            log(f"wrote {out_path}")
    return rows


def items_path(out_path):
    """Where the per-item scores of an eval.json go: eval_items.json beside it, {"DOMAIN.SPLIT.MODE": [score
    per item, in the eval file's order], "DOMAIN.SPLIT.MODE.behaviour": [its behaviour], "_files": {"DOMAIN.SPLIT.MODE":
    the sha256 of the eval file its items came from}} (paired comparisons)."""
    return os.path.join(os.path.dirname(os.path.abspath(out_path)), "eval_items.json" if os.path.basename(out_path) ==
                        "eval.json" else os.path.basename(out_path) + ".items.json")


def format_table(rows):
    lines = ["| domain | split | mode | metric | value | 95% CI | n |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['domain']} | {r['split']} | {r['mode']} | {r['metric']} | {r['value']:.3f} | "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['n']} |" for r in rows]
    return "\n".join(lines)


def format_examples(examples, n_examples):
    lines = []
    for domain, exs in examples.items():
        lines.append(f"\n{domain}: sample prompts")
        for split, mode, (prompt, answer, verdict) in exs[:n_examples]:
            lines.append(f"  [{split} {mode}] {prompt[-120:]!r}\n      model: {answer!r}   ({verdict})")
    return "\n".join(lines)
