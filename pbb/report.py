"""The runner's report: results.md (scores per curriculum, split and mode; paired differences), results.png and, with
algorithm distillation, results_ad.png and the line saying what one instruction is worth."""
import itertools
import os

from pbb.runner import CURRICULA
from pbb.stats import MAIN_METRIC, mean_spread


def _key(r):
    """Table row key: AD rows are told apart by their number of demonstrations."""
    name = r["curriculum"] + (f" N={r['demos']}" if "demos" in r else "")
    return (name, r["domain"], r["split"], r["mode"], r["metric"])


def write_report(rows, out):
    """results.md (per curriculum, split and mode, mean ± half-range over seeds; then the paired differences
    with their intervals), results.png and, with AD rows, results_ad.png and the line saying what one
    instruction is worth. A seed whose base model fails one of the runner's checks (base_check rows) is flagged first,
    then the checks per seed."""
    checks = [r for r in rows if r["metric"] in ("base_check", "gate_validity")]
    diffs = [r for r in rows if "_minus_" in r["metric"]]
    rows = [r for r in rows if "_minus_" not in r["metric"] and r not in checks]
    order = lambda r: (r["curriculum"], r.get("demos", 0), r["domain"], r["split"], r["mode"], r["metric"])
    keys = list(dict.fromkeys(_key(r) for r in sorted(rows, key=order)))
    lines = base_report(checks) + [
        "| curriculum | domain | split | mode | metric | value | 95% CI (seed 0) | n | seeds |",
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


def failed_seeds(rows):
    """{seed: [what its base model failed, ...]} from the base_check rows."""
    out = {}
    for r in rows:
        if r["metric"] == "base_check" and not r["passed"]:
            out.setdefault(r["seed"], []).append(f"{r['domain']} {r['split']} {r['mode']} {r['checked']} "
                                                  f"{r['value']:.3f} < {r['threshold']}")
    return out


def base_report(checks):
    """results.md's first lines: the flagged seeds, the base model's checks per seed, the grammar gate per seed."""
    if not checks:
        return []
    failed = failed_seeds(checks)
    lines = ([f"**Flagged: seed {s}'s base model fails its check ({'; '.join(w)}); its rows are in the means "
              "below.**" for s, w in sorted(failed.items())] or ["Every seed's base model passes its checks."])
    lines += ["", "| seed | base-model check | value | threshold | passed |", "|---|---|---|---|---|"]
    for r in sorted((r for r in checks if r["metric"] == "base_check"), key=lambda r: (r["seed"], r["domain"])):
        lines.append(f"| {r['seed']} | {r['domain']} {r['split']} {r['mode']} {r['checked']} | {r['value']:.3f} | "
                     f"{r['threshold']} | {'yes' if r['passed'] else '**no**'} |")
    gate = [r for r in checks if r["metric"] == "gate_validity"]
    if gate:
        lines += ["", "Grammar pretraining's gate (in-context CoT validity on held-out pretraining grammars):", "",
                  "| seed | checkpoint | validity | threshold |", "|---|---|---|---|"]
        lines += [f"| {r['seed']} | {r['stage']} | {r['value']:.3f} | {r['threshold']} |" for r in gate]
    return lines + [""]


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
                    vals = [r["value"] for r in rows
                            if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"])
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


def plot_curves(root, stages, path=None):
    """One figure of a seed's stages (root/STAGE/metrics.jsonl): each stage's training loss and validation loss against
    step (GRPO: its policy loss and mean reward), a panel each; root/curves.png by default. Stages without metrics are
    left out; nothing is written when none has any."""
    import json

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = {}
    for stage in stages:
        f = os.path.join(root, stage, "metrics.jsonl")
        if os.path.exists(f):
            with open(f) as fh:
                runs[stage] = [json.loads(line) for line in fh]
    if not runs:
        return None
    cols = min(4, len(runs))
    rows_n = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.8 * rows_n), squeeze=False)
    for ax, (stage, recs) in zip(axes.flat, runs.items()):
        step = [r for r in recs if "loss" in r and "docs_seen" not in r]
        ax.plot([r["step"] for r in step], [r["loss"] for r in step], lw=1, label="train loss")
        val = [r for r in recs if "val_loss" in r]
        if val:
            ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", ms=3, label="val loss")
        if any("reward" in r for r in recs):
            ax.plot([r["step"] for r in recs if "reward" in r], [r["reward"] for r in recs if "reward" in r],
                    "s-", ms=3, color="C2", label="mean reward")
        ax.set_title(stage, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(runs):]:
        ax.axis("off")
    fig.tight_layout()
    path = path or os.path.join(root, "curves.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
