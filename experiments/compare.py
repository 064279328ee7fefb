"""Two runs compared on the same eval items: RUN_A minus RUN_B per curriculum, split and mode, with 95% intervals.

    python -m experiments.compare RUN_A RUN_B [--out DIR] [--splits S_eval,...] [--modes cot,...]

RUN_A and RUN_B are either two finished results directories of the runner (`python -m experiments.pbb --out DIR`:
DIR/seedN/STAGE/eval_items.json), paired stage by stage and seed by seed over the stages and seeds both have; or two
checkpoints (ckpt.pt) of runs on the same corpus, evaluated first (eval.py's defaults) unless an eval_items.json
beside them is newer than they are. Each pair is scored on the same items: the difference per item, a 95% bootstrap
interval over behaviours (all items of one together) and, with several seeds, over seeds too (pbb/stats.py). Only
the splits and modes asked for are paired; runs whose items differ there (other behaviours, or another eval file) are
refused in one line.

Prints a markdown table (each side's mean over seeds, the difference and its interval) and writes it with the JSON
rows (the runner's format, metric e.g. accuracy_minus_b, with "a" and "b" the two runs) to DIR (default
out/compare/NAME_A-vs-NAME_B): compare.md, compare.json.
"""
import argparse
import json
import os
import re

from pbb.runner import CURRICULA, cli, evaluate_once
from pbb.stats import MAIN_METRIC, paired_rows

NAMES = {stage: curriculum for curriculum, stage in CURRICULA.items()}


def load(path):
    with open(path) as f:
        return json.load(f)


def run_pairs(a, b):
    """{curriculum or stage: {seed: (items of a, items of b)}} of two results directories."""
    seeds = lambda d: {int(m[1]) for n in os.listdir(d) if (m := re.fullmatch(r"seed(\d+)", n))}
    common = sorted(seeds(a) & seeds(b))
    if not common:
        raise SystemExit(f"error: {a} and {b} have no seed in common (seedN directories); compare finished runs")
    out, first = {}, os.path.join(a, f"seed{common[0]}")
    alias = lambda st: os.path.islink(os.path.join(first, st)) and (  # e.g. seedN/base -> seedN/pretrain
        os.path.dirname(os.path.realpath(os.path.join(first, st))) == os.path.realpath(first))
    for stage in sorted(st for st in os.listdir(first) if not alias(st)):
        have = [s for s in common if all(os.path.exists(os.path.join(d, f"seed{s}", stage, "eval_items.json"))
                                          for d in (a, b))]
        if have:
            out[NAMES.get(stage, stage)] = {s: tuple(load(os.path.join(d, f"seed{s}", stage, "eval_items.json"))
                                                     for d in (a, b)) for s in have}
    if not out:
        raise SystemExit(f"error: {a} and {b} have no evaluated stage in common (seedN/STAGE/eval_items.json)")
    return out


def ckpt_pairs(a, b):
    """{label: {seed: (items of a, items of b)}} of two checkpoints (seed: the checkpoint's own, or 0)."""
    items = []
    for ckpt in (a, b):
        there = os.path.join(os.path.dirname(ckpt), "eval_items.json")
        if not os.path.exists(there) or os.path.getmtime(there) < os.path.getmtime(ckpt):  # none, or of an older one
            evaluate_once(ckpt)
        items.append(load(os.path.join(os.path.dirname(ckpt), "eval_items.json")))
    return {"checkpoint": {0: tuple(items)}}


def table(rows, means):
    """Markdown: one line per curriculum, domain, split and mode."""
    lines = ["| curriculum | domain | split | mode | A | B | A minus B [95% CI] | n per seed | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, b = means[r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"]]
        seeds = r.get("seeds", [r["seed"]])
        score = r["metric"].rsplit("_minus_", 1)[0]  # a score other than the main one is named after the split
        split = r["split"] + ("" if score == MAIN_METRIC[r["domain"]] else f" {score}")
        lines.append(f"| {r['curriculum']} | {r['domain']} | {split} | {r['mode']} | {a:.3f} | {b:.3f} | "
                     f"{r['value']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] | {r['n']} | {len(seeds)} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="results directory or checkpoint A")
    p.add_argument("b", help="results directory or checkpoint B")
    p.add_argument("--out", default=None, help="where compare.md and compare.json go")
    p.add_argument("--splits", default=None, help="only these splits, e.g. S_eval,S_control (families: S_eval/compose)")
    p.add_argument("--modes", default=None, help="only these modes, e.g. cot,implicit")
    a = p.parse_args(argv)
    for x in (a.a, a.b):
        if not os.path.exists(x):
            raise SystemExit(f"error: {x} does not exist; pass two results directories or two checkpoints")
    if os.path.isdir(a.a) != os.path.isdir(a.b):
        raise SystemExit("error: compare two results directories or two checkpoints, not one of each")
    pairs = run_pairs(a.a, a.b) if os.path.isdir(a.a) else ckpt_pairs(a.a, a.b)
    keep = lambda split, mode: ((a.splits is None or split in a.splits.split(","))
                                and (a.modes is None or mode in a.modes.split(",")))
    # only the items asked for are paired: runs whose other splits differ (e.g. more S_train behaviours) compare
    only = lambda items: {k: v for k, v in items.items() if k.startswith("_") or keep(*k.split(".")[1:3])}
    rows, means = [], {}
    for label, by_seed in pairs.items():
        by_seed = {s: (only(x), only(y)) for s, (x, y) in by_seed.items()}
        got = paired_rows(by_seed, label, "b")
        many = len(by_seed) > 1
        got = [r for r in got if (r["seed"] is None) == many]  # several seeds: the rows over all of them
        for r in got:
            score = r["metric"].rsplit("_minus_", 1)[0]
            key = f"{r['domain']}.{r['split']}.{r['mode']}" + ("" if score == MAIN_METRIC[r["domain"]] else f".{score}")
            side = [sum(sum(items[i][key]) / len(items[i][key]) for items in by_seed.values()) / len(by_seed)
                    for i in (0, 1)]
            means[label, r["domain"], r["split"], r["mode"], r["metric"]] = side
            rows.append({**r, "a": a.a, "b": a.b, "mean_a": side[0], "mean_b": side[1]})
    if not rows:
        raise SystemExit("error: no row left to compare (--splits / --modes match nothing the runs were scored on)")
    name = lambda x: (os.path.basename(os.path.normpath(x)) if os.path.isdir(x) else
                      "_".join(os.path.normpath(os.path.dirname(x)).split(os.sep)[-3:]))
    out = a.out or os.path.join("out", "compare", f"{name(a.a)}-vs-{name(a.b)}")
    os.makedirs(out, exist_ok=True)
    text = (f"A = {a.a}, B = {a.b}; {MAIN_METRIC['programs']} (programs) / {MAIN_METRIC['grammars']} (grammars), "
            "paired on the same items\n\n" + table(rows, means))
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "compare.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(text + f"\n[compare] {len(rows)} rows; {out}/compare.md, compare.json")
    return 0


if __name__ == "__main__":
    cli(main)
