"""The PBB comparison end to end: corpus -> pretrain -> homogeneous mixture, Proactive PBB and
Retroactive PBB (SFT and GRPO) -> eval -> results table (markdown), summary.json and a bar plot (PNG).

    python -m experiments.pbb [--out DIR] [--seeds N] [--preset cpu|gpu|micro] [--ad] [--corpus CONFIG]
                              [--against OTHER_OUT] [--ood | --description | --compose | --grammars] [--seed S]

Beside each curriculum's scores: its paired difference from the mixture on the same eval items (same seed,
same pretrained checkpoint), with a 95% bootstrap interval over behaviours (and over seeds when there are
several): rows with metric accuracy_minus_mixture (programs) / validity_minus_mixture (grammars). The
pretrained checkpoint itself is evaluated too (rows with curriculum "pretrain": S_eval, where in-context
execution is the base model's skill, and pretrain_recall_val, its recall from the weights, when the corpus
has a recall pool). --corpus trains every stage on another corpus config; --against OTHER_OUT adds each
curriculum's paired difference from the same curriculum and seed of another finished run on the same eval
items (metric accuracy_minus_against / validity_minus_against, e.g. recall pool vs none).

--ad adds the sample-efficiency sweep: algorithm distillation (configs/ad.py) from the Proactive stage-1
checkpoint with N demonstrations per S_eval behaviour, for every N in the corpus's ad_demos, evaluated
beside Proactive PBB's one instruction per behaviour (rows with curriculum "ad" carry "demos": N), with the
paired difference AD minus Proactive on the same items (metric accuracy_minus_proactive). A corpus with
ad_uniform_control (the --ood corpus) also has AD from uniform demonstrations (curriculum "ad_uniform", stages
ad_uniform_N{N}) and its paired difference from AD with the skewed ones (metric accuracy_minus_ad).

--ood: the out-of-distribution test (configs/corpus_ood.py, with --ad): S_train's executions and AD's
demonstrations drawn from a skewed input distribution, every evaluation input from the half the skew makes
rare; with ad_demos 10 and 100, and the uniform-demonstration control beside (ad_uniform). --description: the same curricula with plain-English descriptions for sources
(configs/corpus_description.py), paired with the default run's results directory (--against) when it exists.
--compose: each behaviour of S_train, S_eval, S_control and the recall pool is, with probability 0.5, a
composition f(x) = g(h(x)) of two functions of its split, executed by nested CoT traces (configs/corpus_compose.py); the rows of split
S_eval/compose ask whether a curriculum chains two S_eval functions it has only read. --grammars: the grammar domain
on its own corpus and pretraining (configs/corpus_grammars.py: recursive right-linear grammars, CoT traces that list
the rules applied, a recall pool of grammars; configs/pretrain_grammars.py: twice the pretraining steps). On a corpus
with grammars or nested compositions GRPO may generate as many tokens as eval.py's CoT budget (grpo_cap); with
grammars the pretrained model is also evaluated with the rules and the CoT cue in its prompt (eval.py mode
incontext_cot).

Every stage is one train.py run of its config in configs/ (the preset is PBB_PRESET, read by
configs/pbb_common.py). A stage whose checkpoint is complete is reused; a partial one is resumed; an
evaluation of a checkpoint with the same arguments is reused (eval.args.json beside its eval.json).
--seed S trains and evaluates seed S only and writes no summary: seeds can run in parallel processes on the
same OUT, and a later run with --seeds N collects them (reusing everything).
"""
import argparse
import itertools
import json
import os
import sys
import time

STAGES = [  # (stage, config, the stage it starts from)
    ("pretrain", "configs/pretrain.py", None),
    ("mixture", "configs/mixture.py", "pretrain"),
    ("pbb_stage1", "configs/pbb_stage1.py", "pretrain"),
    ("pbb_stage2", "configs/pbb_stage2.py", "pbb_stage1"),
    ("retro_stage1", "configs/retro_stage1.py", "pretrain"),
    ("retro_stage2_sft", "configs/retro_stage2_sft.py", "retro_stage1"),
    ("retro_stage2_grpo", "configs/retro_stage2_grpo.py", "retro_stage1"),
]
PRETRAIN = {"grammars": "configs/pretrain_grammars.py"}  # a corpus flag's own stage-0 config (else configs/pretrain.py)
CURRICULA = {"mixture": "mixture", "proactive": "pbb_stage2", "retroactive_sft": "retro_stage2_sft",
             "retroactive_grpo": "retro_stage2_grpo"}
MAIN_METRIC = {"programs": "accuracy", "grammars": "validity"}
NOT_COMPARED = {"out_dir", "init_from", "progress", "vocab_size", "device", "compile", "head_all_positions"}  # may differ on reuse


def run_stage(config, out_dir, parent_dir, seed, extra=()):
    """Trains one stage unless its checkpoint is already complete. Returns the checkpoint path.
    extra: more train.py overrides, e.g. ("--train_data=...",). A checkpoint trained with another config
    (the config file or the seed changed since), or older than the checkpoint it starts from, is refused
    with one line, not silently reused."""
    import train
    from data.format import CorpusError
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    init_from = os.path.join(parent_dir, "ckpt.pt") if parent_dir else "scratch"
    if os.path.exists(ckpt_path):
        try:
            ckpt = train.load_checkpoint(ckpt_path)
            wanted, _ = train.load_config([config, f"--out_dir={out_dir}", f"--seed={seed}", *extra])
        except train.UserError as e:
            raise SystemExit(f"error: {e}")
        had = {k: ckpt["config"].get(k, train.DEFAULTS.get(k)) for k in wanted}  # keys added since: defaults
        changed = [f"{k} {had[k]!r} -> {wanted[k]!r}" for k in wanted if k not in NOT_COMPARED and had[k] != wanted[k]]
        if changed:
            raise SystemExit(f"error: {out_dir} was trained with another config ({'; '.join(changed)}); delete it and "
                             "the stages that start from it to retrain them, or pass --out for a new results directory")
        try:
            manifest = train.open_data(wanted)[1]
        except (train.UserError, CorpusError, OSError, ValueError) as e:
            raise SystemExit(f"error: {e}")
        built, now = ckpt.get("corpus_config"), train.corpus_config(manifest)  # None: a checkpoint from before
        keys = [k for k in now if built is not None and built.get(k) != now[k]]
        if ckpt.get("tokenizer_id") != train.tokenizer_id(manifest) or keys:
            raise SystemExit(f"error: {out_dir} was trained on another build of corpus {wanted['corpus']} (the corpus "
                             f"was rebuilt since{': its ' + ', '.join(keys) + ' differ' if keys else ', with another tokenizer'})"
                             "; delete it and the stages that start from it to retrain them, or pass --out for a new "
                             "results directory")
        if parent_dir and os.path.getmtime(init_from) > os.path.getmtime(ckpt_path):
            raise SystemExit(f"error: {out_dir} was trained from an older {init_from}; delete it to retrain it "
                             "from the current one, or pass --out for a new results directory")
        if ckpt["step"] >= ckpt["config"]["max_iters"]:
            print(f"[pbb] reusing {ckpt_path} (step {ckpt['step']})")
            return ckpt_path
        init_from = "resume"
    print(f"[pbb] training {config} -> {out_dir}")
    rc = train.main([config, f"--out_dir={out_dir}", f"--init_from={init_from}", f"--seed={seed}", *extra,
                     "--progress=false" if not sys.stderr.isatty() else "--progress=true"])
    if rc != 0:
        raise SystemExit(f"error: stage {config} failed (exit {rc}); fix it and rerun: finished stages are reused")
    return ckpt_path


def paired_rows(pairs, curriculum, ref, n_boot=2000):
    """Rows of the paired difference (curriculum minus ref) per DOMAIN.SPLIT.MODE. pairs: {seed: (items_a,
    items_b)}, eval_items.json dicts of two checkpoints scored on the same items. The 95% interval is a
    bootstrap that resamples behaviours (all items of a behaviour together) within each seed and, with
    several seeds, the seeds too; value = mean over seeds of the mean per-item difference."""
    import numpy as np
    rng, rows = np.random.default_rng(0), []
    keys = [k for k in next(iter(pairs.values()))[0] if not k.endswith(".behaviour")]
    for key in keys:
        domain, split, mode = key.split(".")
        if any(key not in a or key not in b for a, b in pairs.values()):  # a run not scored on these items (e.g. an
            # evaluation from before per-family rows, reused)
            continue
        per_seed = {}  # seed -> (sum of differences per behaviour, items per behaviour)
        for seed, (a, b) in sorted(pairs.items()):
            if a[key + ".behaviour"] != b[key + ".behaviour"]:
                raise SystemExit(f"error: {key} holds other items in the two runs compared; pair runs of the same "
                                 "S_train/S_eval/S_control behaviours")
            names = a[key + ".behaviour"]
            order = {n: i for i, n in enumerate(dict.fromkeys(names))}
            idx, d = np.array([order[n] for n in names]), np.array(a[key]) - np.array(b[key])
            per_seed[seed] = (np.bincount(idx, d), np.bincount(idx))

        def estimate(seeds, picks):
            return np.mean([per_seed[s][0][p].sum() / per_seed[s][1][p].sum() for s, p in zip(seeds, picks)], axis=0)
        seeds = sorted(per_seed)
        metric = f"{MAIN_METRIC[domain]}_minus_{ref}"
        for group in ([[s] for s in seeds] + ([seeds] if len(seeds) > 1 else [])):
            value = estimate(group, [slice(None)] * len(group))
            boot = []
            for _ in range(n_boot):
                ss = rng.choice(group, len(group)) if len(group) > 1 else group
                boot.append(estimate(ss, [rng.integers(0, len(per_seed[s][1]), len(per_seed[s][1])) for s in ss]))
            lo, hi = np.percentile(boot, [2.5, 97.5])
            r = dict(curriculum=curriculum, domain=domain, split=split, mode=mode, metric=metric, value=float(value),
                     ci_low=float(lo), ci_high=float(hi), n=int(per_seed[group[0]][1].sum()),
                     seed=group[0] if len(group) == 1 else None)
            rows.append(r if len(group) == 1 else {**r, "seeds": group})
    return rows


def evaluate_once(ckpt, **kw):
    """eval.evaluate's rows for ckpt, reusing its eval.json when that was written for this checkpoint (not
    older than it) with the same arguments (recorded in eval.args.json beside it)."""
    import eval as evaluator
    d = os.path.dirname(ckpt)
    paths = [os.path.join(d, f) for f in ("eval.json", "eval_items.json", "eval.args.json")]
    args = json.loads(json.dumps(kw))  # tuples as lists, as they read back
    # all three newer than the checkpoint, and the arguments not older than the rows (eval.py by hand since: redo)
    if all(os.path.exists(p) and os.path.getmtime(p) >= os.path.getmtime(ckpt) for p in paths) and \
            os.path.getmtime(paths[2]) >= max(os.path.getmtime(paths[0]), os.path.getmtime(paths[1])):
        with open(paths[2]) as f:
            if json.load(f) == args:
                print(f"[pbb] reusing {paths[0]}")
                with open(paths[0]) as g:
                    return json.load(g)
    rows = evaluator.evaluate(ckpt, log=None, progress=False, **kw)
    with open(paths[2], "w") as f:
        json.dump(args, f)
    return rows


def pairs_of(out_a, stage_a, out_b, stage_b, seeds):
    """{seed: (eval_items.json of out_a/seedN/stage_a, of out_b/seedN/stage_b)}: the input of paired_rows."""
    def items(out, stage, s):
        with open(os.path.join(out, f"seed{s}", stage, "eval_items.json")) as f:
            return json.load(f)
    return {s: (items(out_a, stage_a, s), items(out_b, stage_b, s)) for s in seeds}


def missing_evals(out, n_seeds):
    """The seedN/STAGE of a results directory that lack the eval_items.json a pairing needs."""
    return [f"seed{s}/{st}" for s in range(n_seeds) for st in dict(CURRICULA, pretrain="pretrain").values()
            if not os.path.exists(os.path.join(out, f"seed{s}", st, "eval_items.json"))]


def mean_spread(values):
    m = sum(values) / len(values)
    return m, (max(values) - min(values)) / 2


def _key(r):
    """Table row key: AD rows are told apart by their number of demonstrations."""
    name = r["curriculum"] + (f" N={r['demos']}" if "demos" in r else "")
    return (name, r["domain"], r["split"], r["mode"], r["metric"])


def write_report(rows, out):
    """results.md (per curriculum, split and mode, mean ± half-range over seeds; then the paired differences
    with their intervals), results.png and, with AD rows, results_ad.png and the line saying what one
    instruction is worth."""
    diffs = [r for r in rows if "_minus_" in r["metric"]]
    rows = [r for r in rows if "_minus_" not in r["metric"]]
    order = lambda r: (r["curriculum"], r.get("demos", 0), r["domain"], r["split"], r["mode"], r["metric"])
    keys = list(dict.fromkeys(_key(r) for r in sorted(rows, key=order)))
    lines = ["| curriculum | domain | split | mode | metric | value | 95% CI (seed 0) | n | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        group = [r for r in rows if _key(r) == key]
        m, spread = mean_spread([r["value"] for r in group])
        first = min(group, key=lambda r: r["seed"])
        value = f"{m:.3f}" + (f" ± {spread:.3f}" if len(group) > 1 else "")
        lines.append(f"| {' | '.join(key)} | {value} | [{first['ci_low']:.3f}, {first['ci_high']:.3f}] | "
                     f"{first['n']} | {len(group)} |")
    if diffs:
        many = any(r["seed"] is None for r in diffs)  # with several seeds: only the rows over all seeds
        lines += ["", "Paired differences on the same eval items (95% bootstrap interval over behaviours"
                  + (" and seeds" if many else "") + "):", "",
                  "| curriculum | domain | split | mode | metric | difference | 95% CI | n per seed | seeds |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted((r for r in diffs if (r["seed"] is None) == many), key=order):
            seeds = r.get("seeds", [r["seed"]])
            lines.append(f"| {_key(r)[0]} | {r['domain']} | {r['split']} | {r['mode']} | {r['metric']} | "
                         f"{r['value']:+.3f} | [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] | {r['n']} | {len(seeds)} |")
    worth = instruction_worth(rows)
    if worth:
        lines += ["", worth]
        plot_ad(rows, os.path.join(out, "results_ad.png"))
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(rows, os.path.join(out, "results.png"))
    return "\n".join(lines)


def _mean_acc(rows, curriculum, split, mode, demos=None):
    vals = [r["value"] for r in rows if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"])
            == (curriculum, "programs", split, mode, "accuracy") and r.get("demos") == demos]
    return sum(vals) / len(vals) if vals else None


def instruction_worth(rows):
    """One line: the largest N such that AD with N' <= N demonstrations never beats Proactive PBB's single
    instruction per behaviour on S_eval (programs, best mode of each); None without AD or Proactive rows."""
    demos = sorted({r["demos"] for r in rows if r["curriculum"] == "ad"})

    def best(curriculum, n=None):  # (accuracy, mode) of the better of implicit and CoT
        return max((_mean_acc(rows, curriculum, "S_eval", m, n) or 0.0, m) for m in ("implicit", "cot"))

    if not demos or all(_mean_acc(rows, "proactive", "S_eval", m) is None for m in ("implicit", "cot")):
        return None
    p, p_mode = best("proactive")
    ad = {n: best("ad", n) for n in demos}
    sweep = ", ".join(f"N={n} {a:.2f} ({m})" for n, (a, m) in ad.items())
    if p == 0 and all(a == 0 for a, _ in ad.values()):
        return f"No signal: Proactive PBB and AD ({sweep}) are all at 0 on S_eval (programs)."
    reached = list(itertools.takewhile(lambda n: ad[n][0] <= p, demos))
    what = ("matches or beats algorithm distillation at every N tested" if reached == demos else
            f"matches or beats algorithm distillation up to N={reached[-1]}" if reached else
            f"is below algorithm distillation already at N={demos[0]}")
    return (f"One instruction per behaviour {what}: Proactive PBB's S_eval accuracy {p:.2f} ({p_mode}) vs AD "
            f"{sweep} (programs, best mode of each, means over seeds; their spread is in the table).")


def plot_ad(rows, path):
    """S_eval accuracy of AD against N (log axis), Proactive PBB's one instruction as horizontal lines; with the
    OOD control, AD from uniform demonstrations beside."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    demos = sorted({r["demos"] for r in rows if r["curriculum"] == "ad"})
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (split, mode), style in {("S_eval", "implicit"): "o-", ("S_eval", "cot"): "s-",
                                 ("S_control", "implicit"): "x:"}.items():
        ys = [_mean_acc(rows, "ad", split, mode, n) for n in demos]
        ax.plot(demos, [y or 0.0 for y in ys], style, label=f"AD {split} {mode}")
    if any(r["curriculum"] == "ad_uniform" for r in rows):  # the OOD control: uniform demonstrations
        ys = [_mean_acc(rows, "ad_uniform", "S_eval", "implicit", n) for n in demos]
        ax.plot(demos, [y or 0.0 for y in ys], "o--", color="C0", alpha=0.6, label="AD, uniform demos, S_eval implicit")
    for mode, color in (("implicit", "C0"), ("cot", "C1")):
        y = _mean_acc(rows, "proactive", "S_eval", mode)
        if y is not None:
            ax.axhline(y, color=color, ls="--", lw=1, label=f"Proactive PBB S_eval {mode}")
    ax.set_xscale("log")
    ax.set_xticks(demos, [str(n) for n in demos])
    ax.set_xlabel("demonstrations per behaviour (N)")
    ax.set_ylabel("exact-match accuracy (programs)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def ad_sweep(root, seed, eval_kw, extra=()):
    """Algorithm distillation from the Proactive stage-1 checkpoint, one stage per N in the corpus's
    ad_demos; returns the eval rows (S_eval and S_control), each with "demos": N."""
    import train
    parent = os.path.join(root, "pbb_stage1")
    _, manifest = train.open_data(train.load_checkpoint(os.path.join(parent, "ckpt.pt"))["config"])
    rows = []
    for n in sorted(set(manifest["config"]["ad_demos"])):
        for curriculum, mix in (("ad", "exec_S_eval_N"), ("ad_uniform", "exec_S_eval_uniform_N")):
            if f"{mix}{n}" not in manifest["mixtures"]:  # ad_uniform: only with the corpus's ad_uniform_control
                continue
            ckpt = run_stage("configs/ad.py", os.path.join(root, f"{curriculum}_N{n}"), parent, seed,
                             (f"--train_data={mix}{n},pretrain_replay", *extra))
            for r in evaluate_once(ckpt, splits=("S_eval", "S_control"), modes=("implicit", "cot"), curriculum=curriculum,
                                   **eval_kw):
                rows.append({**r, "seed": seed, "demos": n})
    return rows


def plot(rows, path):
    """Bars per domain (a row of panels each): S_eval's main metric (programs accuracy, grammars validity) per
    curriculum and mode, S_control's beside, and the baseline a sceptic would try (programs: the majority answer;
    grammars: the best constant string); error bars = seed spread."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curricula = [c for c in CURRICULA if any(r["curriculum"] == c for r in rows)]
    domains = [d for d in MAIN_METRIC if any(r["domain"] == d for r in rows)] or ["programs"]
    modes = ["implicit", "cot", "incontext"]
    fig, axes = plt.subplots(len(domains), len(modes), figsize=(4 * len(modes), 3.5 * len(domains)), sharey=True,
                             squeeze=False)
    for row_axes, domain in zip(axes, domains):
        metric = MAIN_METRIC[domain]
        base = "majority_baseline" if domain == "programs" else "constant_baseline"
        bars = [("S_eval", metric), ("S_control", metric), ("S_eval", base)]
        for ax, mode in zip(row_axes, modes):
            for j, (split, m) in enumerate(bars):
                means, errs = [], []
                for c in curricula:
                    vals = [r["value"] for r in rows if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"])
                            == (c, domain, split, mode, m)]
                    mean, spread = mean_spread(vals) if vals else (0.0, 0.0)
                    means.append(mean), errs.append(spread)
                xs = [i + (j - 1) * 0.27 for i in range(len(curricula))]
                ax.bar(xs, means, 0.27, yerr=errs, color=f"C{j}", label=f"{split} {m.replace('_', ' ')}")
            ax.set_xticks(range(len(curricula)), curricula, rotation=15)
            ax.set_title(f"{domain}, {mode}")
            ax.set_ylim(0, 1)
        row_axes[0].set_ylabel("exact-match accuracy" if domain == "programs" else "validity")
        row_axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def grpo_cap(manifest, extra):
    """GRPO's completion cap on a corpus (its manifest) with grammars or nested compositions, whose traces outgrow
    configs/retro_stage2_grpo.py's 64 new tokens (set for the programs' plain traces): eval.py's CoT budget, the
    longest CoT training document, so that RL does not reward only the traces short enough to finish. () for plain
    programs, or when the config's cap suffices."""
    import eval as evaluator
    import train
    cfg = train.load_config(["configs/retro_stage2_grpo.py", *extra])[0]
    need = evaluator.default_max_new_tokens(manifest, "cot")
    long_traces = "grammars" in manifest["config"]["domains"] or manifest["config"].get("compose_trace") == "nested"
    return (f"--grpo_max_new_tokens={need}",) if long_traces and need > cfg["grpo_max_new_tokens"] else ()


def open_corpus_of(config, extra):
    """The manifest of the corpus a stage config trains on with the runner's overrides (built when missing)."""
    import train
    from data.format import CorpusError
    try:
        return train.open_data(train.load_config([config, *extra])[0])[1]
    except (train.UserError, CorpusError) as e:
        raise SystemExit(f"error: {e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="results directory (default out/pbb/PRESET)")
    p.add_argument("--seeds", type=int, default=1, help="number of training seeds (0, 1, ...)")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--samples", type=int, default=None, help="grammar samples per prompt (eval.py's default if unset)")
    p.add_argument("--ad", action="store_true", help="also run the algorithm-distillation sweep (N demonstrations)")
    p.add_argument("--corpus", default=None, help="corpus config of every stage (default: the preset's)")
    p.add_argument("--against", default=None, help="another finished results directory to pair every curriculum with")
    p.add_argument("--seed", type=int, default=None, help="train and evaluate this seed only, write no summary (run "
                   "seeds in parallel processes, then --seeds N to collect them: finished stages are reused)")
    variant = p.add_mutually_exclusive_group()
    variant.add_argument("--ood", action="store_true", help="skewed training inputs, rare eval inputs (implies --ad)")
    variant.add_argument("--description", action="store_true", help="descriptions instead of sources")
    variant.add_argument("--compose", action="store_true", help="compositions g(h(x)) among the behaviours, nested "
                         "CoT traces (S_eval/compose: two S_eval functions chained)")
    variant.add_argument("--grammars", action="store_true", help="the grammar domain on its own corpus and pretraining "
                         "(recursive right-linear grammars, configs/corpus_grammars.py)")
    a = p.parse_args(argv)
    os.environ["PBB_PRESET"] = a.preset
    default_out = os.path.join("out", "pbb", a.preset)
    corpus_flag = next((f for f in ("ood", "description", "compose", "grammars") if getattr(a, f)), None)
    out = a.out or default_out + (f"_{corpus_flag}" if corpus_flag else "")
    if corpus_flag and a.preset != "cpu" and a.corpus is None:
        p.error(f"--{corpus_flag} changes the cpu preset's corpus; with another preset pass --corpus too")
    if corpus_flag:
        a.corpus = a.corpus or f"configs/corpus_{corpus_flag}.py"
        a.ad = a.ad or a.ood
    if a.description and a.against is None and not missing_evals(default_out, a.seeds):
        a.against = default_out  # the source run of the same behaviours and eval items, every seed of it
    extra = (f"--corpus={a.corpus}",) if a.corpus else ()
    import eval as evaluator
    t0, rows = time.time(), []
    evaluated = dict(CURRICULA, pretrain="pretrain")
    missing = a.against and missing_evals(a.against, a.seeds)
    if missing:
        raise SystemExit(f"error: --against {a.against} has no evaluation of {', '.join(missing[:3])}; run it with "
                         f"--seeds {a.seeds} first (finished stages are reused), or pass fewer --seeds")
    manifest = open_corpus_of(STAGES[0][1], extra)  # every stage's corpus (--corpus, else the preset's)
    grammars = "grammars" in manifest["config"]["domains"]
    stage_extra = {"retro_stage2_grpo": grpo_cap(manifest, extra)}
    kw = {} if a.samples is None else {"samples": a.samples}
    for seed in range(a.seeds) if a.seed is None else [a.seed]:
        root = os.path.join(out, f"seed{seed}")
        for stage, config, parent in STAGES:
            config = PRETRAIN.get(corpus_flag, config) if stage == "pretrain" else config
            run_stage(config, os.path.join(root, stage), parent and os.path.join(root, parent), seed,
                      extra + stage_extra.get(stage, ()))
        # the base model with grammars: also its derivation from the rules in context (eval.py mode incontext_cot)
        for curriculum, stage in evaluated.items():
            splits = ("S_eval", "pretrain_recall_val") if curriculum == "pretrain" else evaluator.EVAL_SPLITS
            more = {"modes": [*evaluator.MODES, "incontext_cot"]} if curriculum == "pretrain" and grammars else {}
            for r in evaluate_once(os.path.join(root, stage, "ckpt.pt"), splits=splits, curriculum=curriculum, **kw, **more):
                rows.append({**r, "seed": seed})
        if a.ad:
            rows += ad_sweep(root, seed, kw, extra)
    if a.seed is not None:
        print(f"[pbb] seed {a.seed} done, {time.time() - t0:.0f} s; collect the seeds with --seeds N")
        return 0
    seeds = range(a.seeds)
    for curriculum, stage in CURRICULA.items():
        if curriculum != "mixture":
            rows += paired_rows(pairs_of(out, stage, out, "mixture", seeds), curriculum, "mixture")
    for n in sorted({r["demos"] for r in rows if r["curriculum"] == "ad"}):
        rows += [{**r, "demos": n} for r in paired_rows(pairs_of(out, f"ad_N{n}", out, "pbb_stage2", seeds), "ad", "proactive")]
        if any(r["curriculum"] == "ad_uniform" and r["demos"] == n for r in rows):  # the OOD control, same items
            rows += [{**r, "demos": n} for r in paired_rows(pairs_of(out, f"ad_uniform_N{n}", out, f"ad_N{n}", seeds),
                                                            "ad_uniform", "ad")]
    if a.against:
        for curriculum, stage in evaluated.items():
            pairs = pairs_of(out, stage, a.against, stage, seeds)
            rows += [{**r, "against": a.against} for r in paired_rows(pairs, curriculum, "against")]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(write_report(rows, out))
    print(f"[pbb] {time.time() - t0:.0f} s; results in {out}: summary.json, results.md, results.png"
          + (", results_ad.png" if a.ad and instruction_worth(rows) else ""))
    return 0


def cli(main):
    """Runs an experiment's main(); a refusal (SystemExit with an "error: ..." string) is one line on stderr, exit 2."""
    try:
        sys.exit(main())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(2)
        raise


if __name__ == "__main__":
    sys.exit(main())
