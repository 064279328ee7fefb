"""A grid sweep of the PBB comparison: for every cell of a grid of knob values, the chosen curricula and the
homogeneous mixture, each curriculum's paired difference from the mixture, a heatmap and sweep.json.

    python -m experiments.sweep SWEEP_CONFIG [--out DIR] [--seeds N] [--preset cpu|gpu|micro] [--samples K]
                                [--domain programs|grammars] [--mode implicit|cot|incontext]

A sweep config is a plain Python file (configs/sweep_*.py) naming
    grid = {knob: [value, ...], ...}      the cells are the cartesian product of the value lists
    curricula = ["mixture", "proactive"]  names from experiments.pbb.CURRICULA (this list if unset); the mixture
                                          always runs, since every difference is against it
A knob is either
  - STAGE.KEY, a stage config key for one stage (as the runner's --set STAGE.KEY=VALUE), e.g. pbb_stage2.frozen;
  - a stage config key (any key of DEFAULTS): passed as `--knob=value` to every curriculum stage of the
    cell (pretraining keeps its own settings, except the architecture keys ARCH_KEYS and corpus,
    corpus_seed, data_dir, which a checkpoint fixes and which go to the cell's pretraining too); or
  - a corpus key (any key of data.config.DEFAULTS): the cell trains on OUT/corpora_cfg/cell_<i>.py, which
    imports the preset's corpus config and sets the cell's values, built in OUT/corpora/cell_<i> (i: the first
    cell with these corpus values; the cells that differ only in stage knobs train on the same corpus). A cell
    whose corpus values are the preset corpus's own trains on the preset's corpus.
  - a derived knob (DERIVED below), which sets several keys of some stages:
    mixing_ratio  the share of S_eval declarations among the documents of the mixture stage (0 < r < 1): it trains
                  on decl_S_eval drawn with probability r and the rest of the default mixture (decl_exec_S_train,
                  pretrain_replay) in proportion to their sizes (train_weights), for as many steps as show it
                  the S_eval declarations Proactive stage 2 shows (expected from the corpus's documents and tokens
                  per mixture; metrics.jsonl's last line has the documents each stage saw, docs_seen). The default
                  mixture is close to r = 0.30 at the same exposure. Only the mixture stage changes.
    stage2_steps  the length (max_iters) of Proactive stage 2, and with it the S_eval declaration exposures that
                  a mixing_ratio cell's mixture is matched to (the runner's stage 2 has 140 steps on the cpu preset).
    exec_ratio    S_train's executions per declaration in the mixture stage, as a multiple r > 0 of the corpus's: the
                  mixture draws decl_S_train_S_eval, exec_S_train, exec_cot_S_train and pretrain_replay with weights
                  their document counts, the two execution mixtures' times r (train_weights), for as many steps as
                  show it every declaration as often as the default mixture does (its max_iters times the tokens of
                  one such weighted pass over those of the default's mixture and pretrain_replay). r = 1 is the
                  default's proportions, drawn at random rather than walked. Only the mixture stage changes (a
                  mixture.max_iters knob overrides its length); not combined with mixing_ratio or stage_steps.
    stage_steps   the length of a curriculum stage: every curriculum stage's max_iters is scaled by
                  stage_steps / (Proactive stage 1's configured length), so the two stages of Proactive and
                  Retroactive PBB get stage_steps each and the mixture, twice a stage, gets 2 x stage_steps: the
                  curricula stay matched in steps (a plain max_iters knob would give every stage, the mixture
                  included, the same length). Not combined with max_iters or stage2_steps (refused).
A knob in none of these (or seed, out_dir, init_from, which the sweep sets) is refused with one line naming the
closest valid key, before anything runs; so is a value train.py or the corpus config rejects.

A stage whose config, seed and starting checkpoint are those of a stage an earlier cell trained (e.g. Proactive's,
when only the mixture's knobs vary) is not trained again: its directory is a symbolic link to the earlier one.
`--seed S` trains and evaluates seed S only and writes no summary, so that seeds can run in parallel processes
on the same OUT; a later run with `--seeds N` reuses them all and writes the summary. `--cell I` does the same for
one cell (with --seed, one cell of one seed; e.g. on a GPU, where each process leaves it mostly idle). Parallel
processes of one seed share its pretraining: train that first (one process), or they would train it side by side.

Pretraining: each seed pretrains once (configs/pretrain.py on the preset's corpus, OUT/seed<s>/pretrain), and a
cell starts from it when its pretraining config is the same and its corpus has the same tokenizer and
pretraining documents (the manifest's hashes of *.tiktoken and pretrain.{tokens,weights,offsets}.npy);
otherwise the cell pretrains its own (OUT/cell<i>/seed<s>/pretrain), or starts from that of an earlier cell with
the same pretraining config (but for the corpus's path), tokenizer and pretraining documents (e.g. cells that differ
in s_train_extra only). The log says which, cell by cell, and why (the keys or files that
differ). The curriculum stages of cell i are OUT/cell<i>/seed<s>/<stage>. Finished stages and evaluations are
reused as experiments/pbb.py does (run_stage, evaluate_once). On a corpus with grammars or nested compositions
Retroactive GRPO gets the runner's completion cap (pbb.runner.grpo_cap), so that a cell's GRPO is the runner's.

Output in OUT (default out/sweep/<sweep config name>):
  sweep.json            one row per cell x curriculum x domain/split/mode/metric in the runner's row format
                        (curriculum, domain, split, mode, metric, value, ci_low, ci_high, n, seed) plus "knobs",
                        the cell's {knob: value}; with the paired differences curriculum minus mixture on the
                        same items (metric accuracy_minus_mixture / validity_minus_mixture, 95% bootstrap
                        interval over behaviours), and with --seeds N > 1 also rows over all seeds (seed None).
  heatmap_<curriculum>.png  per non-mixture curriculum: the paired difference on S_eval (--domain programs,
                        --mode cot by default) per cell, annotated with value and interval; one knob: a 1 x k
                        strip; two or more: the first knob's values down, the others' combinations across.
  sweep.md              the table printed at the end: one line per cell.
"""
import argparse
import difflib
import itertools
import json
import os
import re
import runpy
import time

from data.build import EVAL_SPLITS, ensure_corpus
from data.config import DEFAULTS as CORPUS_DEFAULTS
from data.config import load_config as load_corpus_config
from data.format import CorpusError
from pbb.batches import open_data
from pbb.common import UserError
from pbb.config import ARCH_KEYS, DEFAULTS, load_config
from pbb.runner import (CURRICULA, STAGES, check_stage, cli, evaluate_once, grpo_cap, pairs_of, parse_sets,
                        pretraining_files, run_stage, stage_overrides)
from pbb.stats import MAIN_METRIC, paired_rows

PRETRAIN = "configs/pretrain.py"
SET_BY_SWEEP = ("seed", "out_dir", "init_from")
CORPUS_STAGE_KEYS = ("corpus", "corpus_seed", "data_dir")
DERIVED = ("mixing_ratio", "stage2_steps", "stage_steps", "exec_ratio")  # set several keys of some stages (docstring)
STAGE_CONFIG = {stage: config for stage, config, _ in STAGES}


def load_sweep(path):
    """(grid, curricula with the mixture first) of a sweep config; SystemExit with one line if anything is wrong."""
    if not os.path.isfile(path):
        raise SystemExit(f"error: sweep config {path} not found")
    ns = runpy.run_path(path)
    grid, curricula = ns.get("grid"), ns.get("curricula", ["mixture", "proactive"])
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, (list, tuple)) and v for v in grid.values()):
        raise SystemExit(f"error: {path} must set grid = {{knob: [value, ...], ...}} with at least one value per knob")
    for knob in grid:
        if "." in knob:  # STAGE.KEY: a train.py key of one stage (the runner's --set)
            parse_sets([f"{knob}=0"], list(STAGE_CONFIG), lambda item: f"knob '{knob}' in {path}")
            continue
        if knob.startswith("grpo_"):
            raise SystemExit(f"error: knob '{knob}' in {path} is a GRPO key: name its stage, e.g. "
                             f"retro_stage2_grpo.{knob}")
        if knob in SET_BY_SWEEP:
            raise SystemExit(f"error: knob '{knob}' in {path} is set by the sweep itself (seeds: --seeds, corpus seed: "
                             "corpus_seed)")
        if knob not in DEFAULTS and knob not in CORPUS_DEFAULTS and knob not in DERIVED:
            close = difflib.get_close_matches(knob, [*DEFAULTS, *CORPUS_DEFAULTS, *DERIVED], n=1)
            raise SystemExit(f"error: unknown knob '{knob}' in {path}, neither a train.py nor a corpus config key nor "
                             f"one of {', '.join(DERIVED)}" + (f"; did you mean '{close[0]}'?" if close else ""))
        if knob == "mixing_ratio" and not all(isinstance(r, (int, float)) and 0 < r < 1 for r in grid[knob]):
            raise SystemExit(f"error: mixing_ratio values in {path} must be numbers between 0 and 1, got {grid[knob]}")
        if knob == "exec_ratio" and not all(isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0
                                            for r in grid[knob]):
            raise SystemExit(f"error: exec_ratio values in {path} must be positive numbers, got {grid[knob]}")
        positive = all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in grid[knob])
        if knob in ("stage2_steps", "stage_steps") and not positive:
            raise SystemExit(f"error: {knob} values in {path} must be positive integers, got {grid[knob]}")
    if "exec_ratio" in grid and {"mixing_ratio", "stage_steps"} & set(grid):
        raise SystemExit(f"error: exec_ratio in {path} sets the mixture's documents and length; it cannot be combined "
                         f"with {' or '.join(sorted({'mixing_ratio', 'stage_steps'} & set(grid)))}")
    if "stage_steps" in grid and {"max_iters", "stage2_steps"} & set(grid):
        raise SystemExit(f"error: stage_steps in {path} sets every stage's length; it cannot be combined with "
                         f"{' or '.join(sorted({'max_iters', 'stage2_steps'} & set(grid)))} (the curricula would no "
                         "longer train as many steps)")
    for c in curricula:
        if c not in CURRICULA:
            close = difflib.get_close_matches(c, CURRICULA, n=1)
            raise SystemExit(f"error: unknown curriculum '{c}' in {path}; "
                             + (f"did you mean '{close[0]}'?" if close else f"choose from {', '.join(CURRICULA)}"))
    return {k: list(v) for k, v in grid.items()}, ["mixture"] + [c for c in dict.fromkeys(curricula) if c != "mixture"]


def stages_of(curricula):
    """The STAGES entries the curricula need, pretraining excepted, in training order."""
    parent, need = {s: p for s, _, p in STAGES}, set()
    for c in curricula:
        s = CURRICULA[c]
        while s != "pretrain":
            need.add(s)
            s = parent[s]
    return [st for st in STAGES if st[0] in need]


def targeted(knobs, stage):
    """The train.py overrides of a cell's STAGE.KEY knobs for one stage."""
    return stage_overrides(parse_sets([f"{k}={v}" for k, v in knobs.items() if "." in k], list(STAGE_CONFIG)), stage)


def cell_args(knobs, out, base_corpus, i):
    """(stage overrides, pretraining overrides) of a cell; with corpus knobs, writes their corpus config as
    OUT/corpora_cfg/cell_<i>.py, i the first cell of these corpus values (later ones train on its corpus), unless
    it equals the preset's (then the cell trains on the preset's corpus). ValueError for a bad corpus value."""
    args = [f"--{k}={v}" for k, v in knobs.items() if k in DEFAULTS]
    pre = [f"--{k}={v}" for k, v in knobs.items() if k in ARCH_KEYS or k in CORPUS_STAGE_KEYS]
    pre += targeted(knobs, "pretrain")
    corpus = {k: v for k, v in knobs.items() if k not in DEFAULTS and k not in DERIVED and "." not in k}
    if corpus:
        base = knobs.get("corpus", base_corpus)
        path = os.path.join(out, "corpora_cfg", f"cell_{i}.py")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + f".{os.getpid()}", "w") as f:  # then renamed: parallel --seed runs may be reading it
            f.write(f"# the corpus of cell {i} of the sweep in {out}: {base} with {corpus}\n")
            f.write(f"from {os.path.splitext(os.path.normpath(base))[0].replace(os.sep, '.')} import *\n\n")
            f.writelines(f"{k} = {v!r}\n" for k, v in corpus.items())
        os.replace(path + f".{os.getpid()}", path)
        if load_corpus_config(path)[1] == load_corpus_config(base)[1]:
            return args, pre
        more = [f"--corpus={path}", f"--data_dir={os.path.join(out, 'corpora', f'cell_{i}')}"]
        args, pre = args + more, pre + more
    return args, pre


def mixing_args(ratio, args, manifest):
    """train.py overrides of the mixture stage for mixing_ratio=ratio (module docstring). Expected S_eval
    declarations per step: (share of decl_S_eval among the documents drawn) / (mean tokens per drawn document),
    the same for Proactive stage 2 (its train_data, each document once per epoch); the mixture's steps match the
    two totals."""
    mix = manifest["mixtures"]
    stage2, _ = load_config([STAGE_CONFIG["pbb_stage2"], *args])
    per_step2 = mix["decl_S_eval"]["docs"] / sum(mix[n]["tokens"] for n in stage2["train_data"])  # share / mean length
    names = ["decl_S_eval", "decl_exec_S_train", "pretrain_replay"]
    rest = sum(mix[n]["docs"] for n in names[1:])
    weights = [ratio] + [(1 - ratio) * mix[n]["docs"] / rest for n in names[1:]]
    mean_len = sum(w * mix[n]["tokens"] / mix[n]["docs"] for w, n in zip(weights, names))
    steps = max(1, round(stage2["max_iters"] * per_step2 / (ratio / mean_len)))
    return [f"--train_data={','.join(names)}", f"--train_weights={[round(w, 6) for w in weights]}",
            f"--max_iters={steps}", f"--eval_interval={max(1, steps // 4)}"]


def exec_ratio_args(r, args, manifest):
    """train.py overrides of the mixture stage for exec_ratio=r (module docstring)."""
    mix = manifest["mixtures"]
    names = ["decl_S_train_S_eval", "exec_S_train", "exec_cot_S_train", "pretrain_replay"]
    if not all(mix.get(n, {}).get("docs") for n in names):
        raise SystemExit(f"error: exec_ratio needs documents in each of {', '.join(names)}; this corpus lacks some "
                         "(s_train_execs?)")
    weights = [mix[n]["docs"] * (r if n.startswith("exec_") else 1) for n in names]
    tokens = sum(w * mix[n]["tokens"] / mix[n]["docs"] for w, n in zip(weights, names))
    steps = max(1, round(load_config([STAGE_CONFIG["mixture"], *args])[0]["max_iters"] * tokens
                         / (mix["mixture"]["tokens"] + mix["pretrain_replay"]["tokens"])))
    return [f"--train_data={','.join(names)}", f"--train_weights={weights}", f"--max_iters={steps}",
            f"--eval_interval={max(1, steps // 4)}"]


def length_args(n):
    return [] if n is None else [f"--max_iters={n}", f"--eval_interval={max(1, n // 4)}"]


def scaled_args(stage, n, args):
    """The overrides of `stage`'s length when a curriculum stage is n steps long (derived knob stage_steps)."""
    if n is None:
        return []
    unit = load_config([STAGE_CONFIG["pbb_stage1"], *args])[0]["max_iters"]
    config = load_config([STAGE_CONFIG[stage], *args])[0]
    steps = max(1, round(config["max_iters"] * n / unit))
    return [f"--max_iters={steps}"] + ([f"--eval_interval={max(1, steps // 4)}"] if config["eval_interval"] else [])


def stage_args(cell, stage, args, manifest):
    """train.py overrides of one stage of a cell: its stage knobs, and what its derived knobs set for it."""
    n, n2 = cell.get("stage_steps"), cell.get("stage2_steps")
    stage2 = args + (length_args(n2) if n2 is not None else scaled_args("pbb_stage2", n, args))
    if stage == "pbb_stage2":
        return stage2
    if stage == "mixture" and "mixing_ratio" in cell:
        return args + mixing_args(cell["mixing_ratio"], stage2, manifest)
    if stage == "mixture" and "exec_ratio" in cell:
        return args + exec_ratio_args(cell["exec_ratio"], args, manifest)
    if stage == "retro_stage2_grpo" and manifest:  # the runner's cap on GRPO's completions: long traces must fit
        return [*args, *scaled_args(stage, n, args), *grpo_cap(manifest, args)]
    return args + scaled_args(stage, n, args)


def corpus_of(config):
    """The manifest of a stage config's corpus, built if absent (a cell's corpus in OUT/corpora is checked against
    its config: a stale one is refused)."""
    try:
        if config["data_dir"]:
            ensure_corpus(config["corpus"], config["data_dir"], config["corpus_seed"])
        return open_data(config)[1]
    except (UserError, CorpusError, ValueError, OSError) as e:
        raise SystemExit(f"error: {e}")


def sharing(pre, base_config, base_manifest):
    """None when a cell with pretraining overrides `pre` can start from the preset's pretraining, else the reason."""
    if not pre:
        return None
    config, _ = load_config([PRETRAIN, *pre])
    keys = [k for k in config if k not in CORPUS_STAGE_KEYS and config[k] != base_config[k]]
    mine, base = pretraining_files(corpus_of(config)), pretraining_files(base_manifest)
    files = [f for f in base if mine.get(f) != base[f]]
    why = ([f"its pretraining config differs in {', '.join(keys)}"] if keys else []) + \
          ([f"its corpus differs in {', '.join(files)}"] if files else [])
    return "; ".join(why) or None


def pretraining_of(pre):
    """What a cell's pretraining trains (its overrides `pre`): its config but for the corpus's path, and its corpus's
    tokenizer and pretraining documents (hashes). Cells that agree share one pretraining."""
    config, _ = load_config([PRETRAIN, *pre])
    return (repr(sorted((k, v) for k, v in config.items() if k not in (*CORPUS_STAGE_KEYS, "out_dir"))),
            tuple(sorted(pretraining_files(corpus_of(config)).items())))


def knob_label(knobs):
    return ", ".join(f"{k}={v}" for k, v in knobs.items()) or "(none)"


def pick(rows, curriculum, domain, split, mode, metric, knobs):
    """The rows of one cell and key: the row over all seeds when there is one, else the seed rows."""
    got = [r for r in rows if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"], r["knobs"])
           == (curriculum, domain, split, mode, metric, knobs)]
    return [r for r in got if r["seed"] is None] or got


def heatmap(rows, grid, curriculum, domain, mode, path):
    """The paired difference curriculum minus mixture on S_eval per cell, with its 95% interval in each cell."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    names = list(grid)
    down = names[:1] if len(names) > 1 else []
    across = names[len(down):]
    ys, xs = list(itertools.product(*(grid[k] for k in down))), list(itertools.product(*(grid[k] for k in across)))
    metric = f"{MAIN_METRIC[domain]}_minus_mixture"
    values = np.full((len(ys), len(xs)), np.nan)
    fig, ax = plt.subplots(figsize=(2 + 1.7 * len(xs), 1.4 + 0.9 * len(ys)))
    cells = []
    for (a, y), (b, x) in itertools.product(enumerate(ys), enumerate(xs)):
        got = pick(rows, curriculum, domain, "S_eval", mode, metric, dict(zip(down + across, y + x)))
        if got:
            values[a, b] = got[0]["value"]
            cells.append((a, b, got[0]))
    scale = max(0.05, float(np.nanmax(np.abs(values))) if not np.isnan(values).all() else 0.05)
    for a, b, r in cells:  # white on the darkest colours
        ax.text(b, a, f"{r['value']:+.2f}\n[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", ha="center", va="center",
                fontsize=8, color="white" if abs(r["value"]) > 0.6 * scale else "black")
    im = ax.imshow(values, cmap="RdBu", vmin=-scale, vmax=scale, aspect="auto")
    ax.set_xticks(range(len(xs)), [", ".join(f"{k}={v}" for k, v in zip(across, x)) for x in xs], fontsize=8,
                  rotation=15 if len(xs) > 3 else 0)
    ax.set_yticks(range(len(ys)) if down else [], [f"{down[0]}={y[0]}" for y in ys] if down else [], fontsize=8)
    ax.set_title(f"{curriculum} minus mixture, {domain} S_eval {mode}\n{metric} [95% CI]", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table(rows, cells, curricula, home, domain, mode, links=None):
    """Markdown: one line per cell: knob values, pretraining, each curriculum's score on S_eval and each paired
    difference from the mixture with its interval (over all seeds when there are several). links: {cell: the
    targets of its pretraining directories that are symbolic links}, named beside its pretraining."""
    metric, knobs = MAIN_METRIC[domain], list(cells[0])
    head = [*knobs, "pretraining", *(f"{c} {metric}" for c in curricula),
            *(f"{c} minus mixture [95% CI]" for c in curricula[1:])]
    lines = [f"S_eval, {domain}, {mode} mode:", "", "| cell | " + " | ".join(head) + " |",
             "|---" * (len(head) + 1) + "|"]
    for i, cell in enumerate(cells):
        score = []
        for c in curricula:
            vals = [r["value"] for r in pick(rows, c, domain, "S_eval", mode, metric, cell)]
            score.append(f"{sum(vals) / len(vals):.3f}" if vals else "")
        for c in curricula[1:]:
            got = pick(rows, c, domain, "S_eval", mode, f"{metric}_minus_mixture", cell)
            score.append(f"{got[0]['value']:+.3f} [{got[0]['ci_low']:+.3f}, {got[0]['ci_high']:+.3f}]" if got else "")
        pre = "shared" if home[i] is None else "own" if home[i] == i else f"cell {home[i]}'s"
        pre += f" (linked to {', '.join(links[i])})" if links and links.get(i) else ""
        lines.append(f"| {i} | " + " | ".join([*map(str, cell.values()), pre, *score]) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="sweep config (configs/sweep_*.py)")
    p.add_argument("--out", default=None, help="results directory (default out/sweep/<config name>)")
    p.add_argument("--seeds", type=int, default=1, help="number of training seeds (0, 1, ...)")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--samples", type=int, default=None, help="grammar samples per prompt (eval.py's default if unset)")
    p.add_argument("--domain", default="programs", choices=list(MAIN_METRIC), help="domain of the heatmaps and table")
    p.add_argument("--mode", default="cot", choices=["implicit", "cot", "incontext"],
                   help="mode of the heatmaps and table")
    p.add_argument("--seed", type=int, default=None, help="train and evaluate this seed only, write no summary (run "
                   "seeds in parallel processes, then --seeds N to collect them)")
    p.add_argument("--cell", type=int, default=None, help="train and evaluate this cell only (0, 1, ... in the order "
                   "the log lists them), write no summary: cells in parallel processes, then --seeds N to collect")
    a = p.parse_args(argv)
    grid, curricula = load_sweep(a.config)
    os.environ["PBB_PRESET"] = a.preset
    out = os.path.normpath(a.out or os.path.join("out", "sweep", os.path.splitext(os.path.basename(a.config))[0]))
    base_config, _ = load_config([PRETRAIN])
    cells = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if a.cell is not None and not 0 <= a.cell < len(cells):
        raise SystemExit(f"error: --cell {a.cell}, but {a.config} has {len(cells)} cell(s): pick one of 0 to "
                         f"{len(cells) - 1}")
    args, corpus_home = [], {}
    for i, cell in enumerate(cells):  # every cell's configs are checked before anything trains
        corpus = {k: v for k, v in cell.items()
                  if (k not in DEFAULTS and k not in DERIVED and "." not in k) or k == "corpus"}
        j = corpus_home.setdefault(repr(sorted(corpus.items())), i)  # cells of the same corpus values share it
        try:
            args.append(cell_args(cell, out, base_config["corpus"], j))
            for stage, config, _ in stages_of(curricula):
                check_stage(stage, config, [*args[i][0], *targeted(cell, stage)])
            check_stage("pretrain", PRETRAIN, args[i][1])  # the cell's pretraining, pretrain.KEY knobs included
        except (UserError, ValueError) as e:
            raise SystemExit(f"error: cell {i} ({knob_label(cell)}): {e}")
    for i, cell in enumerate(cells):  # derived knobs read the corpus: built once every cell's values are valid
        manifest = corpus_of(load_config([STAGE_CONFIG["mixture"], *args[i][0]])[0]) \
            if any(k in DERIVED for k in cell) or "retroactive_grpo" in curricula else None
        args[i] = ({st: stage_args(cell, st, args[i][0], manifest) + targeted(cell, st) for st, _, _ in
                    stages_of(curricula)}, args[i][1])
    t0, rows, home, pre_home = time.time(), [], [], {}  # home[i]: the cell whose pretraining cell i uses, or None
    base_manifest = corpus_of(base_config)
    for i, cell in enumerate(cells):
        reason = sharing(args[i][1], base_config, base_manifest)
        home.append(None if reason is None else pre_home.setdefault(pretraining_of(args[i][1]), i))
        print(f"[sweep] cell {i} ({knob_label(cell)}): " + (
            "pretraining shared with the preset's (same tokenizer and pretraining documents)" if reason is None else
            f"pretrains its own ({reason})" if home[i] == i else
            f"starts from cell {home[i]}'s own pretraining ({reason})"))
    kw = {} if a.samples is None else {"samples": a.samples}
    trained = {}  # (stage, its overrides, the real path of its starting checkpoint's directory) -> its directory
    for seed in range(a.seeds) if a.seed is None else [a.seed]:
        shared = os.path.join(out, f"seed{seed}", "pretrain")
        if None in (home if a.cell is None else [home[a.cell]]):  # some cell of this run starts from the preset's
            run_stage(PRETRAIN, shared, None, seed)
        for i, cell in enumerate(cells):
            if a.cell is not None and i != a.cell:
                continue
            root = os.path.join(out, f"cell{i}", f"seed{seed}")
            pre = shared if home[i] is None else os.path.join(out, f"cell{home[i]}", f"seed{seed}", "pretrain")
            if home[i] == i or (home[i] is not None and a.cell is not None):  # alone, a cell trains the one it shares
                run_stage(PRETRAIN, pre, None, seed, args[home[i]][1])
            for stage, config, parent in stages_of(curricula):
                here, start = os.path.join(root, stage), pre if parent == "pretrain" else os.path.join(root, parent)
                key = (stage, tuple(args[i][0][stage]), os.path.realpath(start))
                there = trained.setdefault(key, here)
                if there != here and not os.path.lexists(here):  # the same stage as an earlier cell's: link it
                    print(f"[sweep] cell {i}: {stage} is the one of {there} (same config, seed and start): linked")
                    os.makedirs(root, exist_ok=True)
                    os.symlink(os.path.relpath(there, root), here)
                run_stage(config, here, start, seed, args[i][0][stage])
            for c in curricula:
                for r in evaluate_once(os.path.join(root, CURRICULA[c], "ckpt.pt"), splits=EVAL_SPLITS,
                                       curriculum=c, **kw):
                    rows.append({**r, "seed": seed, "knobs": cell})
    if a.seed is not None or a.cell is not None:
        which = " ".join(f"{k} {v}" for k, v in (("cell", a.cell), ("seed", a.seed)) if v is not None)
        print(f"[sweep] {which} done, {time.time() - t0:.0f} s; collect the seeds with --seeds N")
        return 0
    for i, cell in enumerate(cells):
        cell_out = os.path.join(out, f"cell{i}")
        for c in curricula[1:]:
            pairs = pairs_of(cell_out, CURRICULA[c], cell_out, "mixture", range(a.seeds))
            rows += [{**r, "knobs": cell} for r in paired_rows(pairs, c, "mixture")]
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump(rows, f, indent=1)
    for c in curricula[1:]:
        heatmap(rows, grid, c, a.domain, a.mode, os.path.join(out, f"heatmap_{c}.png"))
    links = {}  # pretraining directories linked by hand to another run's (the summary says so)
    for i in range(len(cells)):
        dirs = [os.path.join(out, f"seed{s}" if home[i] is None else f"cell{home[i]}/seed{s}", "pretrain")
                for s in range(a.seeds)]
        links[i] = sorted({re.sub(r"(?<=/)seed\d+(?=/)", "seed*", os.path.join(os.path.dirname(d), os.readlink(d)))
                           for d in dirs if os.path.islink(d)})
    report = table(rows, cells, curricula, home, a.domain, a.mode, links)
    with open(os.path.join(out, "sweep.md"), "w") as f:
        f.write(report + "\n")
    print(report)
    files = ["sweep.json", "sweep.md"] + [f"heatmap_{c}.png" for c in curricula[1:]]
    print(f"[sweep] {len(cells)} cells, {time.time() - t0:.0f} s; results in {out}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    cli(main)
