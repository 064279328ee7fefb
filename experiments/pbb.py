"""The PBB comparison end to end: corpus -> pretrain -> homogeneous mixture, Proactive PBB and
Retroactive PBB (SFT) -> eval -> results table (markdown), summary.json and a bar plot (PNG).

    python -m experiments.pbb [--out DIR] [--seeds N] [--preset cpu|gpu|micro]

Every stage is one train.py run of its config in configs/ (the preset is PBB_PRESET, read by
configs/pbb_common.py). A stage whose checkpoint is complete is reused; a partial one is resumed.
"""
import argparse
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
]
CURRICULA = {"mixture": "mixture", "proactive": "pbb_stage2", "retroactive_sft": "retro_stage2_sft"}


def run_stage(config, out_dir, parent_dir, seed):
    """Trains one stage unless its checkpoint is already complete. Returns the checkpoint path."""
    import train
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    init_from = os.path.join(parent_dir, "ckpt.pt") if parent_dir else "scratch"
    if os.path.exists(ckpt_path):
        ckpt = train.load_checkpoint(ckpt_path)
        if ckpt["step"] >= ckpt["config"]["max_iters"]:
            print(f"[pbb] reusing {ckpt_path} (step {ckpt['step']})")
            return ckpt_path
        init_from = "resume"
    print(f"[pbb] training {config} -> {out_dir}")
    rc = train.main([config, f"--out_dir={out_dir}", f"--init_from={init_from}", f"--seed={seed}",
                     "--progress=false" if not sys.stderr.isatty() else "--progress=true"])
    if rc != 0:
        raise SystemExit(f"error: stage {config} failed (exit {rc}); fix it and rerun: finished stages are reused")
    return ckpt_path


def mean_spread(values):
    m = sum(values) / len(values)
    return m, (max(values) - min(values)) / 2


def write_report(rows, out):
    """results.md (S_eval and S_control per curriculum and mode, mean ± half-range over seeds) and results.png."""
    keys = sorted({(r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"]) for r in rows})
    lines = ["| curriculum | domain | split | mode | metric | value | 95% CI (seed 0) | n | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        group = [r for r in rows if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"]) == key]
        m, spread = mean_spread([r["value"] for r in group])
        first = min(group, key=lambda r: r["seed"])
        value = f"{m:.3f}" + (f" ± {spread:.3f}" if len(group) > 1 else "")
        lines.append(f"| {' | '.join(key)} | {value} | [{first['ci_low']:.3f}, {first['ci_high']:.3f}] | "
                     f"{first['n']} | {len(group)} |")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(rows, os.path.join(out, "results.png"))
    return "\n".join(lines)


def plot(rows, path):
    """Bars: S_eval accuracy (programs) per curriculum and mode, with S_control beside; error bars = seed spread."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curricula = [c for c in CURRICULA if any(r["curriculum"] == c for r in rows)]
    modes = ["implicit", "cot", "incontext"]
    bars = [("S_eval", "accuracy"), ("S_control", "accuracy"), ("S_eval", "majority_baseline")]
    fig, axes = plt.subplots(1, len(modes), figsize=(4 * len(modes), 3.5), sharey=True)
    for ax, mode in zip(axes, modes):
        for j, (split, metric) in enumerate(bars):
            means, errs = [], []
            for c in curricula:
                vals = [r["value"] for r in rows if (r["curriculum"], r["domain"], r["split"], r["mode"], r["metric"])
                        == (c, "programs", split, mode, metric)]
                m, s = mean_spread(vals) if vals else (0.0, 0.0)
                means.append(m), errs.append(s)
            xs = [i + (j - 1) * 0.27 for i in range(len(curricula))]
            ax.bar(xs, means, 0.27, yerr=errs, label=f"{split} {metric.replace('_', ' ')}")
        ax.set_xticks(range(len(curricula)), curricula, rotation=15)
        ax.set_title(f"programs, {mode}")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("exact-match accuracy")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="results directory (default out/pbb/PRESET)")
    p.add_argument("--seeds", type=int, default=1, help="number of training seeds (0, 1, ...)")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--samples", type=int, default=None, help="grammar samples per prompt (eval.py's default if unset)")
    a = p.parse_args(argv)
    os.environ["PBB_PRESET"] = a.preset
    out = a.out or os.path.join("out", "pbb", a.preset)
    import eval as evaluator
    t0, rows = time.time(), []
    for seed in range(a.seeds):
        root = os.path.join(out, f"seed{seed}")
        for stage, config, parent in STAGES:
            run_stage(config, os.path.join(root, stage), parent and os.path.join(root, parent), seed)
        for curriculum, stage in CURRICULA.items():
            kw = {} if a.samples is None else {"samples": a.samples}
            for r in evaluator.evaluate(os.path.join(root, stage, "ckpt.pt"), curriculum=curriculum, **kw):
                rows.append({**r, "seed": seed})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(write_report(rows, out))
    print(f"[pbb] {time.time() - t0:.0f} s; results in {out}: summary.json, results.md, results.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
