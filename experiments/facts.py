"""Is a function's knowledge extractable at its name? Fact completion (corpus key recall_fact_docs, docs/implicit.md).

    python -m experiments.facts CKPT [CKPT ...] [--data_dir DIR] [--out FILE.json] [--device auto|cpu|cuda]

Allen-Zhu & Li (arXiv 2309.14316) test whether pretraining stored a fact where a name can reach it by asking for it
after the name alone. Here, for the one-statement arith functions (`y = x OP C`, then `% MOD`) of the recall pool
(whose fact documents were trained with recall_fact_docs), of pretrain_recall_val (declared in pretraining, never
stated as facts nor executed), of S_eval (declared in the curriculum) and of S_control (never seen: chance), greedy
completions of two fact documents cut before the fact:
    "In NAME, the constant is"   -> C
    "NAME uses the operator"     -> OP
scored against the function's source in the corpus's behaviours.json (read with a regular expression, not from the
generator), beside each split's majority baseline (the share of its most common constant or operator). A read-only
function whose constant the model completes above S_control's rate and the majority baseline is one whose knowledge
sits where its name is. One row per checkpoint x split x fact in the runner's row format (value with its Wilson
interval over functions, n functions) plus "majority"; a table on the terminal.

--minus STAGE (e.g. pretrain) also pairs each other checkpoint with the checkpoint of STAGE of its run (the same
seedN directory, given among CKPT): the difference in completions on the same functions, with a 95% bootstrap interval
over functions and seeds (pbb/stats.py; metric e.g. constant_minus_pretrain), per seed and pooled, in the same rows.
"""
import argparse
import collections
import json
import os
import re

from data.tokenizer import load as load_tokenizer
from experiments.tables import facts_minus
from pbb.checkpoint import load_model
from pbb.common import UserError, resolve_device
from pbb.evaluate import generate_texts, open_checkpoint_corpus, wilson
from pbb.runner import cli
from pbb.stats import paired_rows

SPLITS = ("recall_pool", "pretrain_recall_val", "S_eval", "S_control")
PROMPTS = {"constant": "In {name}, the constant is", "operator": "{name} uses the operator"}
ONE_STATEMENT = re.compile(r"def (\w+)\(x\):\n    y = x (\S+) (\d+)\n    return y % (\d+)\n$")


def functions(data_dir):
    """{split: [(name, {"operator": OP, "constant": C})]} of the corpus's one-statement functions in SPLITS."""
    with open(os.path.join(data_dir, "behaviours.json")) as f:
        behaviours = json.load(f)
    out = collections.defaultdict(list)
    for b in behaviours:
        m = ONE_STATEMENT.match(b.get("source") or "")
        if b["split"] in SPLITS and m:
            out[b["split"]].append((m[1], {"operator": m[2], "constant": m[3]}))
    return out


def completion_value(text):
    """The first word of a completion without its full stop ("3." -> "3", "//." -> "//")."""
    words = text.split()
    return words[0].rstrip(".") if words else ""


def score(ckpt_path, data_dir=None, device="cpu", batch_size=64):
    model, ckpt = load_model(ckpt_path, device)
    data_dir, manifest = open_checkpoint_corpus(ckpt, data_dir)
    enc, eos = load_tokenizer(data_dir, manifest), manifest["eos"]
    stage, rows = os.path.basename(os.path.dirname(os.path.abspath(ckpt_path))), []
    for split, fns in sorted(functions(data_dir).items(), key=lambda kv: SPLITS.index(kv[0])):
        for fact, template in PROMPTS.items():
            texts, _ = generate_texts(model, enc, [template.format(name=n) for n, _ in fns], 4, 0.0, batch_size, eos)
            hits = [int(completion_value(t) == parts[fact]) for t, (_, parts) in zip(texts, fns)]
            k = sum(hits)
            lo, hi = wilson(k, len(fns))
            majority = max(collections.Counter(p[fact] for _, p in fns).values()) / len(fns)
            rows.append(dict(curriculum=stage, domain="programs", split=split, mode="fact", metric=fact,
                             value=k / len(fns), ci_low=lo, ci_high=hi, n=len(fns), seed=ckpt["config"]["seed"],
                             majority=majority, checkpoint=ckpt_path, functions=[n for n, _ in fns], hits=hits))
    return rows


def run_and_stage(ckpt_path):
    """(the run's seedN directory, the stage) of RUN/STAGE/ckpt.pt."""
    d = os.path.dirname(os.path.abspath(ckpt_path))
    return os.path.dirname(d), os.path.basename(d)


def check_minus(paths, ref):
    """One line (SystemExit), before anything is scored, when a checkpoint has no checkpoint of stage `ref` of its
    run to pair, when only `ref`'s are given, or the same seed of two runs."""
    have = {run_and_stage(c) for c in paths}
    if not any(stage == ref for _, stage in have):
        raise SystemExit(f"error: --minus {ref}: no checkpoint of stage {ref} among those given "
                         f"(a seedN/{ref}/ckpt.pt)")
    if all(stage == ref for _, stage in have):
        raise SystemExit(f"error: --minus {ref}: only {ref} checkpoints given; add the other stages' of the same runs")
    seen = {}
    for d, stage in sorted(have):
        if (d, ref) not in have:
            raise SystemExit(f"error: --minus {ref}: {os.path.join(d, stage)} has no {ref} checkpoint of its run "
                             f"among those given; add {os.path.join(d, ref, 'ckpt.pt')}")
        other = seen.setdefault((stage, os.path.basename(d)), d)
        if other != d:
            raise SystemExit(f"error: --minus {ref}: {other} and {d} are the same seed of two runs; give one "
                             "run's seeds")


def paired(rows, ref):
    """Rows of each stage's completions minus those of stage `ref` of the same run (the checkpoint's seedN
    directory), paired on the same functions; rows as score's, with their functions and hits (check_minus first)."""
    run = lambda r: run_and_stage(r["checkpoint"])[0]
    items = collections.defaultdict(dict)  # (stage, run) -> the per-function scores, in eval_items.json's form
    for r in rows:
        d = items[r["curriculum"], run(r)]
        d[f"programs.{r['split']}.fact.{r['metric']}"] = r["hits"]
        d[f"programs.{r['split']}.fact.behaviour"] = r["functions"]
        d["_seed"] = r["seed"]
    out = []
    for stage in dict.fromkeys(st for st, _ in items if st != ref):
        pairs = {}
        for (st, d), a in items.items():
            if st != stage:
                continue
            if a["_seed"] in pairs:
                raise SystemExit(f"error: --minus {ref}: two {stage} checkpoints of seed {a['_seed']}; pair one "
                                 "run's seeds")
            pairs[a["_seed"]] = (a, items.get((ref, d)))
        out += paired_rows(pairs, stage, ref)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.facts", description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt", nargs="+", help="checkpoints (ckpt.pt) to score")
    p.add_argument("--data_dir", default=None, help="the corpus (default: the one each checkpoint was trained on)")
    p.add_argument("--out", default=None, help="write the rows here (JSON)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--minus", default=None, metavar="STAGE",
                   help="also each checkpoint minus its run's checkpoint of STAGE (e.g. pretrain), paired")
    a = p.parse_args(argv)
    if a.out and not a.out.endswith(".json"):
        raise UserError(f"--out {a.out}: write the rows to a .json file")
    if a.minus:
        check_minus(a.ckpt, a.minus)
    rows = [r for c in a.ckpt for r in score(c, a.data_dir, resolve_device(a.device))]
    print("| checkpoint | split | fact | completed | 95% CI | majority | functions |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['checkpoint']} | {r['split']} | {r['metric']} | {r['value']:.3f} | "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['majority']:.3f} | {r['n']} |")
    if a.minus:
        diffs = paired(rows, a.minus)
        print("\n" + facts_minus(diffs))  # the table docs/ renders from these rows
        rows = rows + diffs
    rows = [{k: v for k, v in r.items() if k not in ("functions", "hits")} for r in rows]
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(a.out + ".tmp", a.out)
    return 0


if __name__ == "__main__":
    cli(main)
