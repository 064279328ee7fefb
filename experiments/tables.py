"""Results tables rendered from committed rows, so that a number in the docs cannot drift from the run that made it.

    python -m experiments.tables            # rewrites every marked table in README.md and docs/*.md from its rows
    python -m experiments.tables --check    # exit 1 naming every table that differs from what its rows render

A table is marked in the markdown as

    <!-- table RENDERER ROWS -->
    | ... the rendered table ... |
    <!-- /table -->

ROWS is a JSON file of rows in the runner's format (curriculum, domain, split, mode, metric, value, ci_low, ci_high, n,
seed; a sweep's rows also its cell's knobs), committed in docs/rows/; RENDERER one of the functions registered below
(@renderer). tests/test_tables.py runs the check.
"""
import argparse
import glob
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"(<!-- table (\w+) (\S+) -->\n)(.*?)(<!-- /table -->)", re.S)
RENDERERS = {}
NAMES = {"mixture": "mixture", "proactive": "Proactive PBB", "retroactive_sft": "Retroactive SFT",
         "retroactive_grpo": "Retroactive GRPO (CoT prompts)", "pretrain": "pretrained model",
         "proactive_grpo": "Proactive, GRPO between its stages", "proactive_sft": "Proactive, SFT between its stages"}


def renderer(fn):
    RENDERERS[fn.__name__] = fn
    return fn


# ----------------------------------------------------------------------------- picking and formatting rows

def pick(rows, knobs=None, **keys):
    """The rows that match every key (and whose knobs include `knobs`)."""
    return [r for r in rows if all(r.get(k) == v for k, v in keys.items())
            and (knobs is None or all(r.get("knobs", {}).get(k) == v for k, v in knobs.items()))]


def values(rows, **keys):
    """The per-seed values of one quantity, in seed order."""
    got = [r for r in pick(rows, **keys) if r["seed"] is not None]
    return [r["value"] for r in sorted(got, key=lambda r: r["seed"])]


def spread(vals, digits=2):
    """'0.93 ± 0.08': mean ± half-range over seeds; one seed: '0.93'; none: '—'."""
    if not vals:
        return "—"
    m, h = sum(vals) / len(vals), (max(vals) - min(vals)) / 2
    return f"{m:.{digits}f}" + (f" ± {h:.{digits}f}" if len(vals) > 1 else "")


def mean(vals, digits=2):
    return f"{sum(vals) / len(vals):.{digits}f}" if vals else "—"


def diff(rows, digits=3, **keys):
    """'+0.006 [-0.050, +0.081]': a paired difference over every seed (its row has seed None), else the one seed's."""
    got = pick(rows, **keys)
    got = [r for r in got if r["seed"] is None] or got
    if not got:
        return "—"
    r = got[0]
    return f"{r['value']:+.{digits}f} [{r['ci_low']:+.{digits}f}, {r['ci_high']:+.{digits}f}]"


def per_seed(rows, **keys):
    """'-0.03 / +0.08 / -0.04': a paired difference seed by seed."""
    return " / ".join(f"{v:+.2f}" for v in values(rows, **keys)) or "—"


def markdown(head, lines):
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(map(str, line)) + " |" for line in lines]) + "\n"


def cells(rows):
    """The cells of a sweep's rows (their knobs), in the order they first appear."""
    return [json.loads(k) for k in dict.fromkeys(json.dumps(r["knobs"]) for r in rows)]


P = dict(domain="programs")  # the tables below are of programs unless they say otherwise
ACC, DIFF = dict(P, metric="accuracy"), dict(P, metric="accuracy_minus_mixture")
RECALL = dict(P, metric="instruction_recall")


# ----------------------------------------------------------------------------- the README's and docs/' tables

@renderer
def headline(rows):
    """Every curriculum on S_eval: scores (mean ± half-range over seeds) and the paired difference from the mixture."""
    lines = []
    for c in ("pretrain", "mixture", "proactive", "retroactive_sft", "retroactive_grpo"):
        ctrl = "—" if c == "pretrain" else spread(values(rows, curriculum=c, split="S_control", mode="cot", **ACC))
        lines.append([NAMES[c], spread(values(rows, curriculum=c, split="S_eval", mode="cot", **ACC)),
                      "—" if c in ("pretrain", "mixture") else "**" + diff(rows, curriculum=c, split="S_eval",
                                                                              mode="cot", **DIFF) + "**",
                      spread(values(rows, curriculum=c, split="S_eval", mode="implicit", **ACC)),
                      "—" if c in ("pretrain", "mixture") else diff(rows, curriculum=c, split="S_eval",
                                                                    mode="implicit", **DIFF),
                      mean(values(rows, curriculum=c, split="S_eval", mode="cot", **RECALL)),
                      spread(values(rows, curriculum=c, split="S_eval", mode="incontext", **ACC)), ctrl])
    return markdown(["curriculum", "S_eval CoT", "minus the mixture [95% CI]", "S_eval implicit", "minus the mixture",
                     "instruction recall", "in-context", "S_control CoT"], lines)


@renderer
def baselines(rows):
    """The sceptic's numbers beside the headline: majority baselines, the base model's recall check."""
    m = lambda split: mean(values(rows, curriculum="mixture", split=split, mode="cot", domain="programs",
                                  metric="majority_baseline"))
    recall = dict(curriculum="pretrain", split="pretrain_recall_val", mode="cot")
    return markdown(["S_eval majority baseline", "S_control majority baseline", "base model: recall check CoT",
                     "its instruction recall", "its in-context (S_eval)"],
                    [[m("S_eval"), m("S_control"), spread(values(rows, **recall, **ACC)),
                      spread(values(rows, **recall, **RECALL)),
                      spread(values(rows, curriculum="pretrain", split="S_eval", mode="incontext", **ACC), 3)]])


@renderer
def power(rows):
    """sweep_power: twice the S_eval behaviours; curricula against the mixture, five seeds."""
    lines = []
    for c in ("mixture", "proactive", "retroactive_sft", "retroactive_grpo"):
        one = lambda mode: [r for r in pick(rows, curriculum=c, split="S_eval", mode=mode, **DIFF)
                            if r["seed"] is not None]
        width = lambda mode: (f"{min((r['ci_high'] - r['ci_low']) / 2 for r in one(mode)):.2f}-"
                              f"{max((r['ci_high'] - r['ci_low']) / 2 for r in one(mode)):.2f}") if one(mode) else "—"
        lines.append([NAMES[c], spread(values(rows, curriculum=c, split="S_eval", mode="cot", **ACC)),
                      "—" if c == "mixture" else
                      "**" + diff(rows, curriculum=c, split="S_eval", mode="cot", **DIFF) + "**",
                      width("cot"), "—" if c == "mixture" else diff(rows, curriculum=c, split="S_eval", mode="implicit",
                                                                   **DIFF),
                      width("implicit"), mean(values(rows, curriculum=c, split="S_eval", mode="cot", **RECALL))])
    return markdown(["curriculum", "S_eval CoT", "minus the mixture [95% CI]", "one seed: ±",
                     "S_eval implicit minus the mixture", "one seed: ±", "instruction recall (CoT)"], lines)


EXECS = {"both": "direct + CoT restating the source (default)", "direct": "direct only",
         "both_nosource": "direct + CoT **without** the source"}


@renderer
def execs_scores(rows):
    """sweep_execs: each kind of S_train execution, each curriculum's scores."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: list(EXECS).index(k["s_train_execs"])):
        for i, c in enumerate(("mixture", "proactive", "retroactive_sft")):
            v = lambda split, mode, m=ACC: values(rows, knobs=cell, curriculum=c, split=split, mode=mode, **m)
            lines.append(["" if i else EXECS[cell["s_train_execs"]], NAMES[c], spread(v("S_eval", "cot")),
                          mean(v("S_eval", "cot", RECALL)), mean(v("S_eval", "implicit")), mean(v("S_train", "cot")),
                          mean(v("S_train", "cot", RECALL)), mean(v("S_control", "cot"))])
    return markdown(["S_train executions", "curriculum", "S_eval CoT", "S_eval instruction recall", "S_eval implicit",
                     "S_train CoT", "S_train instruction recall", "S_control CoT"], lines)


@renderer
def execs_diffs(rows):
    """sweep_execs: Proactive and Retroactive SFT minus the mixture, per kind of S_train execution."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: list(EXECS).index(k["s_train_execs"])):
        d = lambda c: diff(rows, knobs=cell, curriculum=c, split="S_eval", mode="cot", **DIFF)
        s = per_seed(rows, knobs=cell, curriculum="proactive", split="S_eval", mode="cot", **DIFF)
        lines.append([EXECS[cell["s_train_execs"]].replace(" (default)", ""), f"{d('proactive')} ({s})",
                      d("retroactive_sft")])
    return markdown(["S_train executions", "Proactive minus mixture (per seed)", "Retroactive SFT minus mixture"],
                    lines)


def ratio_lines(rows, extra):
    lines = []
    for cell in sorted(cells(rows), key=lambda k: -k["mixing_ratio"]):
        v = lambda c, split="S_eval", mode="cot", m=ACC: values(rows, knobs=cell, curriculum=c, split=split, mode=mode,
                                                                **m)
        d = dict(knobs=cell, curriculum="proactive", split="S_eval", mode="cot", **DIFF)
        lines.append([cell["mixing_ratio"], *extra(v), mean(v("proactive")), diff(rows, **d), per_seed(rows, **d)])
    return lines


@renderer
def mixing(rows):
    """sweep_mixing: the share of S_eval declarations in the mixture, exposures matched."""
    extra = lambda v: [mean(v("mixture")),
                       f"{mean(v('mixture', 'S_train'))} / {mean(v('mixture', 'S_train', 'implicit'))}"]
    return markdown(["mixing ratio", "mixture S_eval CoT", "mixture S_train CoT / implicit", "Proactive S_eval CoT",
                     "Proactive minus mixture [95% CI]", "per seed"], ratio_lines(rows, extra))


@renderer
def exposure(rows):
    """sweep_exposure: the mixing map with a third of the exposures (Proactive stage 2: 47 steps)."""
    extra = lambda v: [mean(v("mixture")), mean(v("mixture", m=RECALL))]
    return markdown(["mixing ratio", "mixture S_eval CoT", "its instruction recall", "Proactive S_eval CoT",
                     "Proactive minus mixture [95% CI]", "per seed"], ratio_lines(rows, extra))


@renderer
def augment(rows):
    """sweep_augment: declarations as the source and K - 1 equivalent rewrites."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: k["decl_rewrites"]):
        for i, c in enumerate(("mixture", "proactive")):
            v = lambda split, mode, m=ACC: values(rows, knobs=cell, curriculum=c, split=split, mode=mode, **m)
            k = cell["decl_rewrites"]
            label = "the source (default)" if k == 1 else f"the source and {k - 1} rewrites"
            lines.append(["" if i else label, NAMES[c], spread(v("S_eval", "cot")), mean(v("S_eval", "cot", RECALL)),
                          mean(v("S_eval", "implicit")), mean(v("S_train", "cot")),
                          "" if not i else diff(rows, knobs=cell, curriculum=c, split="S_eval", mode="cot", **DIFF)])
    return markdown(["declarations", "curriculum", "S_eval CoT", "S_eval instruction recall", "S_eval implicit",
                     "S_train CoT", "Proactive minus mixture [95% CI]"], lines)


@renderer
def stage(rows):
    """sweep_stage: batch size x stage length."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: (k["batch_size"], k["stage_steps"])):
        v = lambda c: values(rows, knobs=cell, curriculum=c, split="S_eval", mode="cot", **ACC)
        d = dict(knobs=cell, curriculum="proactive", split="S_eval", mode="cot", **DIFF)
        lines.append([cell["batch_size"], cell["stage_steps"], mean(v("mixture")), mean(v("proactive")),
                      diff(rows, **d), per_seed(rows, **d)])
    return markdown(["batch size", "stage steps (mixture: twice)", "mixture S_eval CoT", "Proactive S_eval CoT",
                     "Proactive minus mixture [95% CI]", "per seed"], lines)


@renderer
def internalise(rows):
    """experiments.internalise: stepwise internalisation, then stage 2, against Proactive's stages (one seed)."""
    lines = []
    names = {"proactive_stage1": "Proactive stage 1", "internalised_stage1": "after internalisation",
             "proactive": "Proactive stage 2", "proactive_internalised": "internalised, then stage 2"}
    for c, label in names.items():
        v = lambda split, mode: mean(values(rows, curriculum=c, split=split, mode=mode, **ACC))
        d = lambda split, mode: diff(rows, 2, curriculum=c, split=split, mode=mode, domain="programs",
                                     metric="accuracy_minus_proactive")
        paired = c in ("internalised_stage1", "proactive_internalised")
        lines.append([label, v("S_train", "implicit") + (f" ({d('S_train', 'implicit')})" if paired else ""),
                      v("S_train", "cot"),
                      v("S_eval", "implicit") + (f" ({d('S_eval', 'implicit')})" if paired else ""),
                      v("S_eval", "cot") + (f" ({d('S_eval', 'cot')})" if paired else ""),
                      v("S_control", "cot")])
    return markdown(["checkpoint", "S_train implicit", "S_train CoT", "S_eval implicit", "S_eval CoT", "S_control CoT"],
                    lines)


@renderer
def grokking(rows):
    """sweep_grokking: the 905-step mixture at weight decay 0.1 and 1.0 (one seed)."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: k["weight_decay"]):
        v = lambda split, mode: mean(values(rows, knobs=cell, curriculum="mixture", split=split, mode=mode, **ACC))
        lines.append([cell["weight_decay"], v("S_train", "implicit"), v("S_eval", "implicit"), v("S_eval", "cot"),
                      v("S_control", "implicit")])
    return markdown(["weight decay", "S_train implicit", "S_eval implicit", "S_eval CoT", "S_control implicit"], lines)


@renderer
def tied(rows):
    """sweep_tied: one block applied n_layer times against the default model (one seed)."""
    lines = []
    for cell in sorted(cells(rows), key=lambda k: k["tied_layers"]):
        for c in ("mixture", "proactive"):
            v = lambda split, mode: mean(values(rows, knobs=cell, curriculum=c, split=split, mode=mode, **ACC))
            lines.append(["tied" if cell["tied_layers"] else "untied", NAMES[c], v("S_eval", "implicit"),
                          v("S_eval", "cot"), v("S_eval", "incontext"),
                          "" if c == "mixture" else diff(rows, knobs=cell, curriculum=c, split="S_eval", mode="cot",
                                                         **DIFF)])
    return markdown(["layers", "curriculum", "S_eval implicit", "S_eval CoT", "in-context",
                     "Proactive minus mixture (CoT) [95% CI]"], lines)


@renderer
def ablation(rows):
    """experiments.compare's table (A minus B, e.g. an ablation run minus the default), its lines as the command
    prints them, for the curricula in which some item differs (a linked, identical stage differs in none)."""
    from experiments.compare import table
    rows = [r for r in rows if not r["value"] == r["ci_low"] == r["ci_high"] == 0]
    return table(rows, {(r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"]): (r["mean_a"], r["mean_b"])
                        for r in rows})


@renderer
def implicit_map(rows):
    """experiments.implicit_map: each lever's paired difference on implicit accuracy, S_eval first."""
    lines = []
    for lever in dict.fromkeys(r["lever"] for r in rows):
        one = {r["split"]: r for r in rows if r["lever"] == lever}
        d = lambda s: f"{one[s]['value']:+.3f} [{one[s]['ci_low']:+.3f}, {one[s]['ci_high']:+.3f}]" if s in one else "—"
        e = one["S_eval"]
        lines.append([lever, e["paired_with"], f"{e['mean_a']:.3f}", f"{e['mean_b']:.3f}", d("S_eval"),
                      f"{(e['ci_high'] - e['ci_low']) / 2:.3f}", len(e.get("seeds") or [0]), d("S_train"),
                      d("S_control")])
    return markdown(["lever", "paired with", "S_eval A", "S_eval B", "S_eval A minus B [95% CI]", "half-width",
                     "seeds", "S_train held-out, A minus B", "S_control, A minus B"], lines)


@renderer
def probe_name(rows):
    """experiments.mechanism --probe: the name-token probe of each checkpoint against chance."""
    from experiments.mechanism import probe_table
    return probe_table(rows)


FACT_STAGES = {"pretrain": "pretrained (fact documents)", "mixture": "mixture", "pbb_stage2": "Proactive PBB"}


@renderer
def facts(rows):
    """experiments.facts: the share of functions whose constant / operator a checkpoint completes after the name,
    pooled over seeds (each seed's in brackets), beside the split's majority baseline."""

    def cell(sel):
        sel = sorted(sel, key=lambda r: r["seed"])
        k, n = sum(round(r["value"] * r["n"]) for r in sel), sum(r["n"] for r in sel)
        return f"{k / n:.2f} (" + " / ".join(f"{r['value']:.2f}" for r in sel) + ")"
    lines = []
    for st in dict.fromkeys(r["curriculum"] for r in rows):
        for sp in dict.fromkeys(r["split"] for r in rows):
            c, o = (pick(rows, curriculum=st, split=sp, metric=m) for m in ("constant", "operator"))
            if c and o:
                lines.append([FACT_STAGES.get(st, st), sp, cell(c), cell(o),
                              f"{c[0]['majority']:.2f} / {o[0]['majority']:.2f}"])
    return markdown(["checkpoint", "functions", "constant completed (per seed)", "operator completed (per seed)",
                     "majority baseline (constant / operator)"], lines)


@renderer
def facts_minus(rows):
    """experiments.facts --minus: each checkpoint's completions minus its run's reference checkpoint's (e.g. the
    pretrained model's), paired on the same functions, pooled over seeds with the 95% interval."""
    minus = [r for r in rows if "_minus_" in r["metric"]]
    pooled = [r for r in minus if r["seed"] is None] or minus  # pooled over seeds; or the one seed's
    ref = pooled[0]["metric"].split("_minus_")[1] if pooled else ""
    lines = []
    for r in pick(pooled, metric=f"constant_minus_{ref}"):
        o = pick(pooled, curriculum=r["curriculum"], split=r["split"], metric=f"operator_minus_{ref}")
        lines.append([FACT_STAGES.get(r["curriculum"], r["curriculum"]), r["split"], diff([r]), diff(o),
                      str(len(r.get("seeds", [r["seed"]])))])
    ref = {"pretrain": "the pretrained model"}.get(ref, ref)
    return markdown(["checkpoint", "functions", f"constant completed, minus {ref} [95% CI]",
                     f"operator completed, minus {ref} [95% CI]", "seeds"], lines)


COMPOSE = dict(P, split="S_eval/compose", mode="cot")  # two S_eval functions chained, CoT
CURRICULA5 = ("pretrain", "mixture", "proactive", "retroactive_sft", "retroactive_grpo")


def label(r, c):
    """A curriculum's name, and its cell's when the rows are a sweep's (knobs other than the composition corpus's)."""
    return NAMES[c] + (f" ({r})" if r else "")


def variants(rows):
    """(label, rows) of every run the rows hold: rows carry "run" (e.g. 'many compositions'), or none."""
    runs = list(dict.fromkeys(r.get("run", "") for r in rows))
    return [(run, [r for r in rows if r.get("run", "") == run]) for run in runs]


@renderer
def composition(rows):
    """experiments.pbb --compose (and its variants, rows marked "run"): each curriculum on S_eval's compositions (CoT),
    the paired difference from the same run's mixture, and its one-function and training scores beside."""
    lines = []
    for run, rs in variants(rows):
        for c in CURRICULA5:
            v = lambda split, metric="accuracy": spread(values(rs, curriculum=c, **dict(COMPOSE, split=split,
                                                                                      metric=metric)))
            if not values(rs, curriculum=c, **dict(COMPOSE, metric="accuracy")):
                continue
            lines.append([label(run, c), v("S_eval/compose"), "—" if c in ("pretrain", "mixture") else
                          "**" + diff(rs, curriculum=c, **dict(COMPOSE, metric="accuracy_minus_mixture")) + "**",
                          v("S_eval/compose", "callee_recall"), v("S_eval/arith"), v("S_train/compose"),
                          v("S_train/compose", "callee_recall"), v("S_control/compose")])
    return markdown(["curriculum", "S_eval/compose CoT", "minus the mixture [95% CI]", "callees restated",
                     "S_eval/arith CoT", "S_train/compose (held-out inputs)", "its callees restated",
                     "S_control/compose"], lines)


@renderer
def composition_placement(rows):
    """Where each curriculum's S_eval compositions fail (eval.py's callee_placement), mean over seeds: the trace's
    parts, each callee alone on the same input, and the failures placed."""
    lines = []
    metrics = ("f_restated", "h_restated", "g_named", "g_other", "g_invented", "g_restated", "h_alone", "g_alone",
               "fail_lookup", "fail_execution", "fail_chaining")
    for run, rs in variants(rows):
        for c in CURRICULA5[1:]:
            got = [mean(values(rs, curriculum=c, **dict(COMPOSE, metric=m))) for m in metrics]
            if any(g != "—" for g in got):
                lines.append([label(run, c)] + got)
    head = ["curriculum", "f restated", "h restated", "g named", "first after h: another function",
            "first after h: an invented name", "g restated", "h alone", "g alone", "failed: lookup",
            "failed: execution", "failed: chaining"]
    keep = [j for j in range(len(head)) if any(line[j] != "—" for line in lines)]  # a score older runs lack: no column
    return markdown([head[j] for j in keep], [[line[j] for j in keep] for line in lines])


@renderer
def pool_compose(rows):
    """The pretrained model of the composition run on the recall pool's held-out compositions (pretrain_recall_val:
    every part only declared in pretraining, while the pool's other compositions were executed there), per seed."""
    k = dict(P, split="pretrain_recall_val/compose", mode="cot", curriculum="pretrain")
    lines = []
    for seed in sorted({r["seed"] for r in pick(rows, **k)}):
        v = lambda metric, split=k["split"]: mean(values(pick(rows, seed=seed), **dict(k, split=split, metric=metric)))
        lines.append([str(seed), v("accuracy"), v("majority_baseline"), v("f_restated"), v("h_restated"),
                      v("g_restated"), v("callee_recall"), v("accuracy", "pretrain_recall_val/arith")])
    return markdown(["seed", "compositions CoT", "majority baseline", "f restated", "h restated", "g restated",
                     "callees restated", "plain functions CoT"], lines)


@renderer
def grpo_trace(rows):
    """experiments.pbb --compose with --set retro_stage2_grpo.grpo_reward=trace and --against the answer-reward run:
    Retroactive GRPO rewarded on the trace, against SFT after the same stage 1 and against the answer-only reward."""
    lines = []
    for split in ("S_train/compose", "S_eval/compose", "S_eval/arith"):
        k = dict(P, split=split, mode="cot")
        lines.append([split, spread(values(rows, curriculum="retroactive_grpo", metric="accuracy", **k)),
                      mean(values(rows, curriculum="retroactive_grpo", metric="callee_recall", **k))
                      if "compose" in split else "—",
                      diff(rows, curriculum="retroactive_grpo", metric="accuracy_minus_retroactive_sft", **k),
                      diff(rows, curriculum="retroactive_grpo", metric="accuracy_minus_against", **k)])
    return markdown(["split (CoT)", "GRPO, trace reward", "callees restated", "minus SFT [95% CI]",
                     "minus GRPO with the answer reward [95% CI]"], lines)


@renderer
def proactive_rl(rows):
    """experiments.pbb --compose --proactive-rl (and its variants, rows marked "run"): GRPO between Proactive's stages,
    its SFT control from the same stage 1, and Proactive PBB without either; each against Proactive, GRPO against SFT,
    and a variant's curriculum against the same curriculum of the first run (--against), on S_eval's compositions."""
    lines = []
    for run, rs in variants(rows):
        for c in ("proactive", "proactive_grpo", "proactive_sft"):
            v = lambda split, metric="accuracy": spread(values(rs, curriculum=c, **dict(COMPOSE, split=split,
                                                                                      metric=metric)))
            d = lambda metric: diff(rs, curriculum=c, **dict(COMPOSE, metric=metric))
            if v("S_eval/compose") != "—":
                lines.append([label(run, c), v("S_train/compose"), v("S_train/compose", "callee_recall"),
                              v("S_eval/compose"), v("S_eval/compose", "callee_recall"), v("S_eval/arith"),
                              v("S_control/compose"), d("accuracy_minus_proactive"), d("accuracy_minus_proactive_sft"),
                              d("accuracy_minus_against")])
    return markdown(["curriculum", "S_train/compose CoT (held-out inputs)", "its callees restated",
                     "S_eval/compose CoT", "callees restated", "S_eval/arith CoT", "S_control/compose",
                     "S_eval/compose minus Proactive [95% CI]", "GRPO minus SFT [95% CI]",
                     "minus the first run's [95% CI]"], lines)


@renderer
def depth3(rows):
    """sweep_depth3: S_eval's compositions of three read-only functions beside those of two, per curriculum."""
    lines = []
    for c in ("mixture", "proactive"):
        v = lambda split, metric="accuracy": spread(values(rows, curriculum=c, **dict(COMPOSE, split=split,
                                                                                  metric=metric)))
        if v("S_eval/compose3") == "—":  # a sweep of the mixture alone
            continue
        lines.append([NAMES[c], v("S_eval/compose3"), v("S_eval/compose3", "majority_baseline"),
                      v("S_eval/compose3", "instruction_recall"), v("S_eval/compose3", "callee_recall"),
                      v("S_eval/compose"), v("S_eval/arith"),
                      "—" if c == "mixture" else diff(rows, curriculum=c, **dict(COMPOSE, split="S_eval/compose3",
                                                                                 metric="accuracy_minus_mixture"))])
    return markdown(["curriculum", "S_eval/compose3 CoT", "majority baseline", "f restated", "k, h, g restated",
                     "S_eval/compose CoT", "S_eval/arith CoT", "minus the mixture [95% CI]"], lines)


G = dict(domain="grammars", metric="validity")


@renderer
def grammars(rows):
    """The grammar comparison: S_eval CoT validity per curriculum, every seed's value, the paired difference."""
    lines = []
    for c in ("pretrain", "mixture", "proactive", "retroactive_sft", "retroactive_grpo"):
        v = values(rows, curriculum=c, split="S_eval", mode="cot", **G)
        gd = dict(curriculum=c, split="S_eval", mode="cot", domain="grammars", metric="validity_minus_mixture")
        d = "—" if c in ("pretrain", "mixture") else "**" + diff(rows, **gd) + "**"
        lines.append([NAMES[c], mean(v, 3) + (f" [{min(v):.3f}, {max(v):.3f}]" if v else ""),
                      " / ".join(f"{x:.2f}" for x in v), d,
                      mean(values(rows, curriculum=c, split="S_control", mode="cot", **G), 3)])
    return markdown(["curriculum", "S_eval CoT validity, mean [range]", "per seed (0, 1, ...)",
                     "minus the mixture [95% CI]", "S_control CoT"], lines)


@renderer
def grammar_base(rows):
    """The grammar pretraining per seed: the gate's measurements, and the base model's checks."""
    lines = []
    for seed in sorted({r["seed"] for r in rows if r["metric"] == "gate_validity"}):
        gate = {r["stage"]: r["value"] for r in pick(rows, metric="gate_validity", seed=seed)}
        check = {(r["split"], r["mode"]): r for r in pick(rows, metric="base_check", seed=seed, domain="grammars")}
        cell = lambda k: "—" if k not in check else (f"{check[k]['value']:.3f}"
                                                     + ("" if check[k]["passed"] else " **(below)**"))
        lines.append([seed, " -> ".join(f"{gate[s]:.3f}" for s in sorted(gate, key=len)), len(gate) - 1,
                      cell(("S_eval", "incontext_cot")), cell(("pretrain_recall_val", "cot"))])
    return markdown(["seed", "gate: held-out validity after 3200 (+1600 ...) steps", "extensions",
                     "S_eval in-context CoT validity", "recall check (CoT validity)"], lines)


# ----------------------------------------------------------------------------- figures drawn from rows

FIGURES = {"docs/figures/headline_minus_mixture_cpu.png": "docs/rows/programs_5seeds_cpu.json"}


def headline_figure(rows, path):
    """Each curriculum minus the mixture on S_eval (programs), CoT and implicit: the pooled paired difference with its
    95% interval, each seed's difference as a dot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curricula = ["proactive", "retroactive_sft", "retroactive_grpo"]
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for j, (mode, color) in enumerate((("cot", "C0"), ("implicit", "C1"))):
        for i, c in enumerate(curricula):
            keys = dict(curriculum=c, split="S_eval", mode=mode, **DIFF)
            pooled = [r for r in pick(rows, **keys) if r["seed"] is None]
            y = i + (0.18 if j else -0.18)
            if pooled:
                r = pooled[0]
                ax.errorbar(r["value"], y, xerr=[[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]], fmt="o",
                            color=color, capsize=3, label=f"S_eval {mode}" if i == 0 else None)
            ax.plot(values(rows, **keys), [y] * len(values(rows, **keys)), ".", color=color, alpha=0.4)
    ax.axvline(0, color="gray", lw=1)
    ax.set_yticks(range(len(curricula)), [NAMES[c].replace(" (CoT prompts)", "") for c in curricula], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("minus the homogeneous mixture (paired, 95% CI over behaviours and seeds; dots: seeds)", fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- the check

def render_text(text, base=REPO):
    """text with every marked table rendered afresh from its rows; and the tables that changed."""
    changed = []

    def one(m):
        head, name, rows_path, old, tail = m.groups()
        if name not in RENDERERS:
            raise SystemExit(f"error: table renderer '{name}' does not exist; choose from {', '.join(RENDERERS)}")
        with open(os.path.join(base, rows_path)) as f:
            new = RENDERERS[name](json.load(f))
        if new != old:
            changed.append(f"{name} {rows_path}")
        return head + new + tail
    return MARK.sub(one, text), changed


def files(base=REPO):
    return [os.path.join(base, "README.md")] + sorted(glob.glob(os.path.join(base, "docs", "*.md")))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.tables", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs from its rows")
    a = p.parse_args(argv)
    stale, n = [], 0
    for path in files():
        with open(path) as f:
            text = f.read()
        n += len(MARK.findall(text))
        new, changed = render_text(text)
        stale += [f"{os.path.relpath(path, REPO)}: {c}" for c in changed]
        if changed and not a.check:
            with open(path, "w") as f:
                f.write(new)
    if not a.check:
        for fig, rows_path in FIGURES.items():
            if os.path.exists(os.path.join(REPO, rows_path)):
                with open(os.path.join(REPO, rows_path)) as f:
                    headline_figure(json.load(f), os.path.join(REPO, fig))
    if a.check and stale:
        print("tables that differ from their rows (run `python -m experiments.tables`):\n  " + "\n  ".join(stale),
              file=sys.stderr)
        return 1
    print(f"{n} tables, {len(stale)} {'differ from their rows' if a.check else 'rewritten'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
