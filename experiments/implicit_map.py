"""The map of implicit execution (docs/implicit.md): every lever's paired difference on implicit accuracy, from the
committed rows of its own comparison, in one table and one figure.

    python -m experiments.implicit_map [--check]

For each lever in LEVERS (a rows file of docs/rows/, the curriculum there, the metric of its paired difference), the
pooled row (over seeds) of S_eval, S_train (held-out inputs) and S_control implicit accuracy, relabelled by the lever,
with A's and B's means: written to docs/rows/implicit_map_cpu.json (rendered in docs/implicit.md by
`python -m experiments.tables`) and drawn to docs/figures/implicit_map_cpu.png (S_eval and S_train, each
difference with its 95% interval, the band of half-width 0.05 that the map asks of a powered null). `--check` changes
nothing and exits 1 if the committed map differs from what the lever rows give.
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS, FIGURE = "docs/rows/implicit_map_cpu.json", "docs/figures/implicit_map_cpu.png"
SPLITS = ("S_eval", "S_train", "S_control")
# (lever, rows file, curriculum in it, metric of the paired difference, B: the curriculum it is paired with)
LEVERS = [
    ("400 S_train functions, mixture", "implicit_many_functions_cpu", "mixture", "accuracy_minus_b", "mixture"),
    ("400 S_train functions, Proactive", "implicit_many_functions_cpu", "proactive", "accuracy_minus_b", "Proactive"),
    ("fact documents at the name, mixture", "implicit_facts_cpu", "mixture", "accuracy_minus_b", "mixture"),
    ("fact documents at the name, Proactive", "implicit_facts_cpu", "proactive", "accuracy_minus_b", "Proactive"),
    ("executions per declaration x0.25", "implicit_exec_ratio_cpu", "mixture, exec_ratio 0.25", "accuracy_minus_b",
     "mixture"),
    ("executions per declaration x4", "implicit_exec_ratio_cpu", "mixture, exec_ratio 4", "accuracy_minus_b",
     "mixture"),
    ("executions per declaration x16", "implicit_exec_ratio_cpu", "mixture, exec_ratio 16", "accuracy_minus_b",
     "mixture"),
    ("8 layers", "implicit_depth_cpu", "mixture", "accuracy_minus_b", "mixture"),
    ("weight-tied, at the untied parameter count", "implicit_tied_matched_cpu", "mixture", "accuracy_minus_b",
     "mixture"),
    ("905 steps (1.6x past fitting), weight decay 0.1", "implicit_grokking_cpu",
     "mixture, 905 steps, weight decay 0.1", "accuracy_minus_b", "mixture"),
    ("905 steps (1.6x past fitting), weight decay 1.0", "implicit_grokking_cpu",
     "mixture, 905 steps, weight decay 1.0", "accuracy_minus_b", "mixture"),
    ("16500 steps (30x past fitting, on an H200; seeds 5-6 on the CPU), weight decay 0.1", "implicit_grokking_long_gpu",
     "mixture, 16500 steps, weight decay 0.1", "accuracy_minus_b", "mixture, same machine"),
    ("16500 steps (30x past fitting, on an H200), weight decay 1.0", "implicit_grokking_long_gpu",
     "mixture, 16500 steps, weight decay 1.0", "accuracy_minus_b", "mixture, H200"),
    ("stepwise internalisation", "internalise_cpu", "internalised_stage1", "accuracy_minus_proactive",
     "proactive_stage1"),
    ("stepwise internalisation, then stage 2", "internalise_cpu", "proactive_internalised", "accuracy_minus_proactive",
     "proactive"),
]
SHOWN = {"proactive": "Proactive", "proactive_stage1": "Proactive stage 1"}  # B's name in the table


def seed_mean(rows, curriculum, split):
    got = [r["value"] for r in rows if r["curriculum"] == curriculum and r["split"] == split
           and r["mode"] == "implicit" and r["metric"] == "accuracy" and r["seed"] is not None]
    return sum(got) / len(got) if got else None


def build(base=REPO):
    """The map's rows from the levers' committed rows files."""
    out, files = [], {}
    for lever, name, curriculum, metric, b in LEVERS:
        if name not in files:  # several levers share one rows file
            with open(os.path.join(base, "docs", "rows", name + ".json")) as f:
                files[name] = json.load(f)
        rows = files[name]
        for split in SPLITS:
            got = [r for r in rows if r["curriculum"] == curriculum and r["split"] == split and r["mode"] == "implicit"
                   and r["metric"] == metric and r["seed"] is None and r["domain"] == "programs"]
            if not got:
                continue
            r = got[0]
            if "mean_a" not in r:  # a runner's summary: the means from its per-seed accuracy rows
                r = {**r, "mean_a": seed_mean(rows, curriculum, split), "mean_b": seed_mean(rows, b, split)}
            out.append({"lever": lever, "paired_with": SHOWN.get(b, b), "rows": f"docs/rows/{name}.json",
                        **{k: r[k] for k in ("split", "mode", "value", "ci_low", "ci_high", "n", "seeds",
                                             "mean_a", "mean_b") if k in r}})
    return out


def figure(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    levers = list(dict.fromkeys(r["lever"] for r in rows))
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(levers) + 1.2))
    ax.axvspan(-0.05, 0.05, color="0.92")
    for j, (split, color) in enumerate((("S_eval", "C1"), ("S_train", "C0"))):
        label = f"{split} implicit" + (" (held-out inputs)" if split == "S_train" else "")
        for i, lever in enumerate(levers):
            got = [r for r in rows if r["lever"] == lever and r["split"] == split]
            if got:
                r, y = got[0], i + (0.15 if j else -0.15)
                ax.errorbar(r["value"], y, xerr=[[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]], fmt="o",
                            color=color, capsize=3, label=label)
                label = None
    ax.axvline(0, color="gray", lw=1)
    ax.set_yticks(range(len(levers)), levers, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("lever minus its default\n(paired, 95% CI over behaviours and seeds; grey: ±0.05)", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.implicit_map", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if the committed map is stale")
    a = p.parse_args(argv)
    rows, path = build(), os.path.join(REPO, ROWS)
    if a.check:
        with open(path) as f:
            if json.load(f) != rows:
                print(f"error: {ROWS} differs from its levers' rows; run `python -m experiments.implicit_map`",
                      file=sys.stderr)
                return 1
        print(f"{ROWS}: {len(rows)} rows agree with their levers' rows")
        return 0
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    figure(rows, os.path.join(REPO, FIGURE))
    print(f"{len(rows)} rows -> {ROWS}; figure -> {FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
