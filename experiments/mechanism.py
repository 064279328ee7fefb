"""Where an internalised instruction lives: a mechanism study of Proactive PBB.

    python -m experiments.mechanism [--preset cpu|gpu|micro] [--seeds N] [--out DIR] [--pbb DIR] [--corpus CONFIG]
                                    [--pairs N] [--device auto|cpu|cuda]
    python -m experiments.mechanism --probe CKPT [CKPT ...] [--out DIR]     the probes alone, of any checkpoints

After Proactive PBB the model executes an S_eval function from its name alone, having only *read* its source (its
CoT trace restates the source first: instruction recall). Three questions, asked of the runner's checkpoints
(PBB/seedN/{pretrain,pbb_stage1,pbb_stage2}/ckpt.pt, PBB = out/pbb/PRESET; missing stages are trained and finished
ones reused, as experiments/pbb.py does):

1. Which parameters must change (rows with part "trainable" and "weight_change"). Proactive stage 2 rerun from the
   same stage-1 checkpoint with `trainable` restricted to one subset (subsets(): MLPs, attention, embeddings, the
   lower or the upper half of the layers, each layer alone), scored by eval.py on S_eval (instruction_recall, CoT
   accuracy, in-context accuracy) and S_train (retention), beside stage 1 and the unrestricted stage 2; and the
   norm of each module's weight change in the unrestricted stage 2.
2. Which components retrieve it ("knockout"). In the stage-2 model each head, each layer's attention (all its heads)
   and each MLP in turn is replaced by zero or by its mean over a reference set (zero is off-distribution), and
   the S_eval items are scored as eval.py scores them (greedy generation) and by teacher forcing (log-probability
   of the restated source after a CoT prompt, of the answer after an in-context prompt): a component needed by the
   internalised route (recall, CoT) but not by the in-context route on the same functions retrieves the instruction.
3. Where it is decodable ("patching", "probe"). Activation patching: the pointer prompt TEMPLATE naming an S_eval
   function, the CoT cue and its restated source up to the first token where it differs from another S_eval
   function's source; the corrupt run names that other function. The clean run's residual stream at one (layer,
   position) is put into the corrupt run; fraction_restored = mean over pairs of (LD_patched - LD_corrupt) / mean
   of (LD_clean - LD_corrupt), LD the logit of the clean source's next token minus the corrupt one's. And a linear
   probe (Probe) of the function's first operator and constant from the residual stream, per layer, trained on
   S_train functions, tested on S_train (two-fold over functions), S_eval and S_control, in the stage-2 model and in
   stage 1 (before S_eval was declared); read at the last token of the name in a pointer prompt, and at the token
   before the operator in the restated source.

Intervals: Wilson for proportions (probe rows count functions as n: prompts of one function are not independent),
mean +- 1.96 standard errors for log-probabilities, a bootstrap over pairs for patching.
Writes OUT (default out/mechanism/PRESET): mechanism.json (rows in the runner's format {curriculum, domain, split,
mode, metric, value, ci_low, ci_high, n, seed} plus "part" and, where they apply, component, layer, head, position,
token, ablation, target, scoring), mechanism.md, knockouts.png, patching.png, probe.png; the restricted stage-2 runs
go to OUT/seedN/stage2_SUBSET.
"""
import argparse
import json
import math
import os
import random
import re
import time

import torch

from data.build import load_instructions
from data.templates import COT_CUE, EXEC
from data.tokenizer import encode_prompt
from data.tokenizer import load as load_tokenizer
from interp.hooks import Patched, Probe, components, knockout, logprobs, means, pad, patch_grid
from pbb.checkpoint import load_checkpoint, load_model
from pbb.common import UserError, resolve_device
from pbb.evaluate import (default_max_new_tokens, evaluate, generate_texts, judge, open_checkpoint_corpus, read_items,
                          row)
from pbb.runner import STAGES, cli, run_stage
from experiments.mechanism_report import write_report

TEMPLATE = "{name}({x}) returns"  # the pointer prompt of the patching pairs (a training template: data/templates.py)
ARITH = re.compile(r"y = x (\S+) (\d+)")  # the first statement of an arith source: the probe's operator and constant


# ----------------------------------------------------------------------------- tools (tests/test_mechanism.py)

def subsets(n_layer):
    """{name: `trainable` regex} of the restricted stage-2 runs (a regex already named under another name is left
    out). Parameter names: wte.weight (lm_head is tied to it), blocks.L.attn.*, blocks.L.mlp.*, blocks.L.ln_1/ln_2.*,
    ln_f.*: the layer subsets hold their blocks' norms, the attention and MLP subsets none; ln_f is only in the
    unrestricted stage 2."""
    half = max(1, n_layer // 2)
    layers = lambda ls: r"^blocks\.(" + "|".join(map(str, ls)) + r")\."
    named = [("mlp", r"\.mlp\."), ("attn", r"\.attn\."), ("embed", r"^(wte|wpe|lm_head)\."),
             ("lower", layers(range(half))), ("upper", layers(range(n_layer - half, n_layer)))]
    out = {}
    for name, regex in named + [(f"layer{l}", layers([l])) for l in range(n_layer)]:
        if regex not in out.values():
            out[name] = regex
    return out


def module_of(name):
    """The module a parameter belongs to: blocks.2.attn.c_proj.weight -> blocks.2.attn, blocks.2.ln_1.weight ->
    blocks.2.norm, wte.weight -> wte."""
    m = re.match(r"blocks\.(\d+)\.(attn|mlp|ln_\d)", name)
    return f"blocks.{m[1]}.{'norm' if m[2].startswith('ln') else m[2]}" if m else name.split(".")[0]


def weight_change(before, after, tied=True):
    """{module: (||after - before||, ||before||)} over the parameters of each module (two state dicts)."""
    sq = {}
    for name, w in before.items():
        if tied and name == "lm_head.weight":  # the same tensor as wte.weight
            continue
        d, n = sq.get(module_of(name), (0.0, 0.0))
        change = float((after[name].double() - w.double()).square().sum())
        sq[module_of(name)] = (d + change, n + float(w.double().square().sum()))
    return {m: (math.sqrt(d), math.sqrt(n)) for m, (d, n) in sq.items()}


# ----------------------------------------------------------------------------- data

def covering(enc, tokens, n_chars):
    """How many leading tokens it takes to cover the first n_chars characters of their text."""
    total = 0
    for k, t in enumerate(tokens):
        if total >= n_chars:
            return k
        total += len(enc.decode_single_token_bytes(t))
    return len(tokens)


def char_starts(enc, tokens):
    """Where each token's text starts, and (last) where the text ends."""
    starts, total = [], 0
    for t in tokens:
        starts.append(total)
        total += len(enc.decode_single_token_bytes(t))
    return starts + [total]


def forced_items(data_dir, enc, split, instructions):
    """{mode: (token lists, starts)} of the split's programs items for logprobs: cot, the prompt then the restated
    source (what instruction_recall asks for); incontext, the prompt then the answer."""
    out = {}
    for mode in ("cot", "incontext"):
        seqs, starts = [], []
        for it in read_items(data_dir, "programs", split, mode):
            p = encode_prompt(enc, it["prompt"])
            then = instructions[it["behaviour"]] if mode == "cot" else " " + it["answer"]
            seqs.append(encode_prompt(enc, it["prompt"] + then))
            starts.append(len(p))
            if seqs[-1][:len(p)] != p:
                raise SystemExit(f"error: {split} {mode} item {it['id']}: its prompt tokenizes differently alone")
        out[mode] = (seqs, starts)
    return out


def patching_pairs(enc, behaviours, n_pairs, seed):
    """(pairs, labels). pairs: [(clean tokens, corrupt tokens, clean target, corrupt target)]: TEMPLATE naming an
    S_eval function f (input: f's first held-out input), the CoT cue and f's source up to the first token after its
    name where it differs from the source of another S_eval function g, the target; the corrupt run names g. Only
    pairs of the most common layout are kept (the same tokens at every position but the names' and the input's), so
    that positions mean the same in every pair; at most n_pairs of them, drawn with `seed`. labels: each position's
    token, or NAME / X."""
    evals = [b for b in behaviours if b["domain"] == "programs" and b["split"] == "S_eval" and b["eval_inputs"]]
    groups = {}
    for f in evals:
        x = repr(f["eval_inputs"][0])
        for g in evals:
            if g is f:
                continue
            seqs, roles, body = [], [], []
            for b in (f, g):
                prompt = TEMPLATE.format(name=b["name"], x=x) + COT_CUE
                at = lambda field, other: len(TEMPLATE.split("{" + field + "}")[0].format(**other))
                n0, x0 = at("name", {"x": x}), at("x", {"name": b["name"]})
                n1 = len(prompt) + b["instruction"].find(b["name"])
                ranges = [("NAME", n0, n0 + len(b["name"])), ("X", x0, x0 + len(x)), ("NAME", n1, n1 + len(b["name"]))]
                toks = encode_prompt(enc, prompt + b["instruction"])
                starts = [0] + char_starts(enc, toks[1:])  # token i spans characters starts[i]:starts[i + 1]; bos none
                roles.append([next((r for r, lo, hi in ranges if starts[i] < hi and lo < starts[i + 1]), t)
                              for i, t in enumerate(toks)])
                seqs.append(toks)
                body.append(next(i for i in range(len(toks) + 1) if i == len(toks) or starts[i] >= n1 + len(b["name"])))
            i = body[0]
            while i < min(map(len, seqs)) and seqs[0][i] == seqs[1][i]:
                i += 1
            if n1 < len(prompt) or body[0] != body[1] or i >= min(map(len, seqs)) or roles[0][:i] != roles[1][:i]:
                continue  # no name in the source, sources that never differ, or misaligned names
            groups.setdefault(tuple(roles[0][:i]), []).append((seqs[0][:i], seqs[1][:i], seqs[0][i], seqs[1][i]))
    if not groups:
        return [], []
    layout, pairs = max(groups.items(), key=lambda kv: (len(kv[1]), -len(kv[0])))
    pairs = random.Random(seed).sample(pairs, min(n_pairs, len(pairs)))
    return pairs, [r if isinstance(r, str) else enc.decode([r]) for r in layout]


@torch.no_grad()
def patching_study(model, enc, behaviours, n_pairs, seed, base):
    """Rows of fraction_restored per (layer, position), and the clean and corrupt logit differences."""
    import numpy as np
    pairs, labels = patching_pairs(enc, behaviours, n_pairs, seed)
    device, grids, lds = model.wte.weight.device, [], []
    for clean, corrupt, tc, tk in pairs:
        c, k = (torch.tensor([s], device=device) for s in (clean, corrupt))
        score = lambda logits: logits[:, -1, tc] - logits[:, -1, tk]
        ld = (float(score(model(c)[0])), float(score(model(k)[0])))
        if ld[0] > ld[1]:  # pairs whose clean run prefers its own source's token more than the corrupt run does
            grids.append(patch_grid(model, c, k, score).cpu().numpy() - ld[1])
            lds.append(ld)
    if not grids:
        return []
    grids, gap = np.stack(grids), np.array([a - b for a, b in lds])
    restored = grids.mean(0) / gap.mean()
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(500):
        s = rng.integers(0, len(gap), len(gap))
        boot.append(grids[s].mean(0) / gap[s].mean())
    lo, hi = np.percentile(np.stack(boot), [2.5, 97.5], axis=0)
    rows = [dict(base, metric="fraction_restored", value=float(restored[l, p]), ci_low=float(lo[l, p]),
                 ci_high=float(hi[l, p]), n=len(gap), layer=l, position=p, token=labels[p])
            for l in range(restored.shape[0]) for p in range(restored.shape[1])]
    for j, name in enumerate(("logit_diff_clean", "logit_diff_corrupt")):
        v = np.array([ld[j] for ld in lds])
        half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
        rows.append(dict(base, metric=name, value=float(v.mean()), ci_low=float(v.mean() - half),
                         ci_high=float(v.mean() + half), n=len(v)))
    return rows


def probe_prompts(behaviours, split, templates, at):
    """[(text, characters up to the probed token, behaviour, operator, constant)] of the split's arith functions (the
    first statement of the source), one per template, with the function's first held-out input. at "name": the
    pointer prompt, read at its name's last token; at "source": the CoT prompt and the restated source up to the token
    before its first operator (where the model is about to write it), read at its end."""
    out = []
    for b in behaviours:
        m = ARITH.search(b.get("source", "")) if b["domain"] == "programs" and b["split"] == split else None
        inst = ARITH.search(b["instruction"]) if m else None
        if m and b["eval_inputs"] and (at == "name" or inst):
            x = repr(b["eval_inputs"][0])
            for tpl in templates:
                text = tpl.format(name=b["name"], x=x)
                if at == "name":
                    end = len(tpl.split("{name}")[0].format(x=x)) + len(b["name"])
                    out.append((text, end, b["name"], m[1], int(m[2])))
                else:
                    text += COT_CUE + b["instruction"][:inst.start(1) - 1]
                    out.append((text, len(text), b["name"], m[1], int(m[2])))
    return out


@torch.no_grad()
def states_at(model, enc, prompts, batch_size=256):
    """(n_layer + 1, N, C): the residual stream at each prompt's probed token (the one that ends its first
    prompts[i][1] characters), entering each block and after the last."""
    seqs = [encode_prompt(enc, p[0]) for p in prompts]
    pos = [covering(enc, s[1:], p[1]) for s, p in zip(seqs, prompts)]  # tokens after bos that cover those characters
    out = []
    for i in range(0, len(seqs), batch_size):
        idx, _ = pad(seqs[i:i + batch_size], model.wte.weight.device)
        hidden = model(idx, return_hidden=True)[2]
        at = torch.tensor(pos[i:i + batch_size], device=idx.device)
        out.append(torch.stack([h[torch.arange(len(idx), device=idx.device), at] for h in hidden]).float().cpu())
    return torch.cat(out, dim=1)


def probe_study(models, enc, behaviours, seed):
    """Rows of probe_accuracy per probed token (position "name" / "source"), target (operator, constant), layer, split
    and model, and chance rows (always the commonest S_train label). Probes are trained on S_train under all 25
    templates; S_train is scored two-fold, each half of its functions by a probe trained on the other half."""
    rows = []
    for at in ("name", "source"):
        sets = {s: probe_prompts(behaviours, s, EXEC["programs"], at) for s in ("S_train", "S_eval", "S_control")}
        if not all(sets.values()):
            continue
        names = sorted({p[2] for p in sets["S_train"]})
        fold = torch.tensor([names.index(p[2]) % 2 for p in sets["S_train"]])
        for curriculum, model in models.items():
            X = {s: states_at(model, enc, v) for s, v in sets.items()}
            for target, col in (("operator", 3), ("constant", 4)):
                y = {s: [p[col] for p in v] for s, v in sets.items()}
                if len(set(y["S_train"])) < 2:
                    continue
                commonest = max(sorted(set(y["S_train"])), key=y["S_train"].count)
                for l in [None] + list(range(X["S_train"].size(0))):
                    if l is None:  # chance
                        if curriculum != next(iter(models)):
                            continue
                        preds = {s: [commonest] * len(v) for s, v in y.items()}
                    else:
                        probe = Probe().fit(X["S_train"][l], y["S_train"])
                        preds = {s: probe.predict(X[s][l]) for s in ("S_eval", "S_control")}
                        preds["S_train"] = [None] * len(fold)
                        for k in (0, 1):
                            train, test = (fold != k).nonzero().flatten(), (fold == k).nonzero().flatten()
                            fitted = Probe().fit(X["S_train"][l][train], [y["S_train"][i] for i in train])
                            held = fitted.predict(X["S_train"][l][test])
                            for i, v in zip(test.tolist(), held):
                                preds["S_train"][i] = v
                    for s in ("S_train", "S_eval", "S_control"):
                        n, acc = len({p[2] for p in sets[s]}), sum(a == b for a, b in zip(preds[s], y[s])) / len(y[s])
                        rows.append({**row(curriculum, seed, "programs", s, "implicit",
                                                     "chance" if l is None else "probe_accuracy", acc * n, n, acc),
                                     "part": "probe", "target": target, "position": at, "layer": l})
    return rows


# ----------------------------------------------------------------------------- the study

def load(ckpt_path, device):
    """(model in eval mode, corpus dir, manifest, tokenizer, training config) of a checkpoint."""
    model, ckpt = load_model(ckpt_path, device)
    data_dir, manifest = open_checkpoint_corpus(ckpt)
    return model, data_dir, manifest, load_tokenizer(data_dir, manifest), ckpt["config"]


def parameters_study(ckpts, here, seed, extra, device):
    """Part 1: the restricted stage-2 runs, each evaluated beside stage 1 and the unrestricted stage 2, and the weight
    change of each module in the unrestricted stage 2."""
    before, after = (load_checkpoint(ckpts[s]) for s in ("pbb_stage1", "pbb_stage2"))
    runs = {"before stage 2": ckpts["pbb_stage1"], "all": ckpts["pbb_stage2"]}
    for name, regex in subsets(before["config"]["n_layer"]).items():
        runs[name] = run_stage("configs/pbb_stage2.py", os.path.join(here, f"stage2_{name}"),
                                   os.path.dirname(ckpts["pbb_stage1"]), seed, (*extra, f"--trainable={regex}"))
    rows = []
    for name, ckpt in runs.items():
        mine = os.path.abspath(ckpt).startswith(os.path.abspath(here))  # the runner's eval.json is left as it is
        for r in evaluate(ckpt, splits=("S_train", "S_eval"), modes=("cot", "incontext"), domains=("programs",),
                                    curriculum="proactive", out_path=None if mine else "", log=None, progress=False,
                                    device=device):
            rows.append({**r, "seed": seed, "part": "trainable", "component": name, "scoring": "generated"})
    for module, (d, n) in weight_change(before["model"], after["model"], after["config"]["tie_embeddings"]).items():
        for metric, v in (("weight_change_norm", d), ("relative_weight_change", d / n if n else 0.0)):
            rows.append(dict(curriculum="proactive", domain=None, split=None, mode=None, metric=metric, value=v,
                             ci_low=v, ci_high=v, n=None, seed=seed, part="weight_change", component=module))
    return rows


def knockout_study(model, enc, manifest, data_dir, instructions, seed):
    """Part 2: every head, layer attention and MLP knocked out (zero and mean) in turn, scored on the S_eval items as
    eval.py scores them (greedy generation: instruction_recall and accuracy with CoT, accuracy in context) and by
    teacher forcing (instruction_logprob: the restated source after a CoT prompt; answer_logprob: the answer after an
    in-context prompt). Means: over every token of the intact model's own runs (prompt and greedy completion) on the
    S_train items of the same mode."""
    cfg = model.config

    def generate(items, mode, patch):
        return generate_texts(Patched(model, patch), enc, [it["prompt"] for it in items],
                                        default_max_new_tokens(manifest, mode), 0.0, 64, manifest["eos"])[0]
    items = {m: read_items(data_dir, "programs", "S_eval", m) for m in ("cot", "incontext")}
    forced, mean_of = forced_items(data_dir, enc, "S_eval", instructions), {}
    for mode in items:
        ref = read_items(data_dir, "programs", "S_train", mode)
        texts = generate(ref, mode, None)
        mean_of[mode] = means(model, [encode_prompt(enc, it["prompt"] + t) for it, t in zip(ref, texts)],
                              components(cfg))
    comps = [("attn", l) for l in range(cfg.n_layer)] + [("mlp", l) for l in range(cfg.n_layer)] + \
            [("head", l, h) for l in range(cfg.n_layer) for h in range(cfg.n_head)]
    rows = []
    for comp, ablation in [(None, "none")] + [(c, a) for c in comps for a in ("zero", "mean")]:
        keys = dict(part="knockout", component=comp[0] if comp else "none", layer=comp[1] if comp else None,
                    head=comp[2] if comp and comp[0] == "head" else None, ablation=ablation)
        for mode, its in items.items():
            patch = knockout(comp, ablation, mean_of[mode], cfg.n_head) if comp else None
            scores = judge("programs", its, generate(its, mode, patch), mode, 1, {}, instructions)[0]
            for metric, k in scores:
                rows.append({**row("proactive", seed, "programs", "S_eval", mode, metric, k, len(its)),
                             **keys, "scoring": "generated"})
            v = torch.tensor(logprobs(model, *forced[mode], patch), dtype=torch.float64)
            half = 1.96 * float(v.std()) / math.sqrt(len(v)) if len(v) > 1 else 0.0
            rows.append(dict(curriculum="proactive", domain="programs", split="S_eval", mode=mode,
                             metric="instruction_logprob" if mode == "cot" else "answer_logprob", value=float(v.mean()),
                             ci_low=float(v.mean()) - half, ci_high=float(v.mean()) + half, n=len(v), seed=seed,
                             **keys, scoring="teacher_forced"))
    return rows


def study(ckpts, here, seed, a, extra, log=print):
    """Every part for one seed; returns the rows."""
    device = resolve_device(a.device)
    model, data_dir, manifest, enc, _ = load(ckpts["pbb_stage2"], device)
    if model.config.tied_layers:
        raise SystemExit("error: the mechanism study restricts training to layers by parameter name, which a model "
                         "with tied_layers = True shares across depth; study an untied model")
    if not manifest["config"].get("cot_restates_instruction", True):
        raise SystemExit("error: the mechanism study needs CoT traces that restate the source "
                         "(cot_restates_instruction = True in the corpus config)")
    t0, rows = time.time(), []
    rows += parameters_study(ckpts, here, seed, extra, device)
    log(f"[mechanism] seed {seed}: part 1 (parameters) {time.time() - t0:.0f} s")
    t1 = time.time()
    rows += knockout_study(model, enc, manifest, data_dir, load_instructions(data_dir), seed)
    log(f"[mechanism] seed {seed}: part 2 (knockouts) {time.time() - t1:.0f} s")
    t1 = time.time()
    with open(os.path.join(data_dir, "behaviours.json")) as f:
        behaviours = json.load(f)
    base = dict(curriculum="proactive", domain="programs", split="S_eval", mode="cot", seed=seed, part="patching")
    rows += patching_study(model, enc, behaviours, a.pairs, seed, base)
    before = load(ckpts["pbb_stage1"], device)[0]
    rows += probe_study({"proactive": model, "proactive_stage1": before}, enc, behaviours, seed)
    log(f"[mechanism] seed {seed}: part 3 (patching, probe) {time.time() - t1:.0f} s")
    return rows


def probe_only(paths, out, device):
    """The name-token and source-token probes alone, of any checkpoints (labelled by their directories, grouped over
    seeds): OUT/probe.json and a table of the best layer's S_eval / S_control accuracy at the name against chance."""
    rows, behaviours = [], {}  # behaviours.json of each corpus, read once (checkpoints mostly share one)
    for path in paths:
        model, data_dir, _, enc, config = load(path, device)
        if data_dir not in behaviours:
            with open(os.path.join(data_dir, "behaviours.json")) as f:
                behaviours[data_dir] = json.load(f)
        label = re.sub(r"/seed\d+/", "/seed*/", os.path.dirname(os.path.normpath(path)))
        rows += [{**r, "checkpoint": path} for r in probe_study({label: model}, enc, behaviours[data_dir],
                                                                config["seed"])]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "probe.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return probe_table(rows)


def probe_table(rows):
    """Markdown: per checkpoint label and target, the name-token probe's accuracy at the layer best on held-out S_train
    functions (never chosen on S_eval), mean over seeds, beside chance (the commonest S_train label, on S_eval)."""
    lines = ["| checkpoint | target | seeds | S_train (held out) | S_eval | S_control | chance | layer |",
             "|---|---|---|---|---|---|---|---|"]
    for label in dict.fromkeys(r["curriculum"] for r in rows):
        for target in ("operator", "constant"):
            got = [r for r in rows if r["curriculum"] == label and r["target"] == target and r["position"] == "name"]
            seeds = sorted({r["seed"] for r in got})
            probed = [r for r in got if r["metric"] == "probe_accuracy"]
            mean = lambda split, layer: sum(  # over seeds
                r["value"] for r in probed if r["split"] == split and r["layer"] == layer) / len(seeds)
            layers = sorted({r["layer"] for r in got if r["layer"] is not None})
            best = max(layers, key=lambda l: mean("S_train", l))  # chosen on held-out S_train functions only
            chance = [r["value"] for r in got if r["metric"] == "chance" and r["split"] == "S_eval"]
            lines.append(f"| {label} | {target} | {len(seeds)} | {mean('S_train', best):.2f} | "
                         f"{mean('S_eval', best):.2f} | {mean('S_control', best):.2f} | "
                         f"{sum(chance) / len(chance):.2f} | {best} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.mechanism", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--seeds", type=int, default=1, help="number of training seeds (0, 1, ...)")
    p.add_argument("--out", default=None, help="results directory (default out/mechanism/PRESET)")
    p.add_argument("--pbb", default=None, help="the runner's results directory (default out/pbb/PRESET)")
    p.add_argument("--corpus", default=None, help="the corpus config the runner was given with --corpus, if any")
    p.add_argument("--pairs", type=int, default=40, help="part 3: at most this many patching pairs per seed")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--probe", nargs="+", metavar="CKPT", help="only the probes, of these checkpoints (any run's): "
                   "OUT/probe.json and a table of the name-token probe (OUT default out/mechanism/probe)")
    a = p.parse_args(argv)
    if a.probe:
        missing = [c for c in a.probe if not os.path.exists(c)]
        if missing:
            raise SystemExit(f"error: no checkpoint at {', '.join(missing)}; give ckpt.pt files of finished stages")
        try:
            print(probe_only(a.probe, a.out or os.path.join("out", "mechanism", "probe"), resolve_device(a.device)),
                  end="")
        except UserError as e:
            raise SystemExit(f"error: {e}")
        return 0
    os.environ["PBB_PRESET"] = a.preset
    runs = a.pbb or os.path.join("out", "pbb", a.preset)
    out = a.out or os.path.join("out", "mechanism", a.preset)
    extra = (f"--corpus={a.corpus}",) if a.corpus else ()
    t0, rows, runner_s = time.time(), [], 0.0
    for seed in range(a.seeds):
        root, ckpts, t1 = os.path.join(runs, f"seed{seed}"), {}, time.time()
        for stage, config, parent in STAGES:
            if stage in ("pretrain", "pbb_stage1", "pbb_stage2"):
                ckpts[stage] = run_stage(config, os.path.join(root, stage), parent and os.path.join(root, parent),
                                             seed, extra)
        runner_s += time.time() - t1
        rows += study(ckpts, os.path.join(out, f"seed{seed}"), seed, a, extra)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "mechanism.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(write_report(rows, out, time.time() - t0 - runner_s, a))
    print(f"[mechanism] {time.time() - t0 - runner_s:.0f} s (+ {runner_s:.0f} s for the runner's stages); results in "
          f"{out}: mechanism.json, mechanism.md, knockouts.png, patching.png, probe.png")
    return 0


if __name__ == "__main__":
    cli(main)
