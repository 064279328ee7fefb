"""The mechanism study's report: mechanism.md (its tables) and knockouts.png, patching.png, probe.png, from the rows
of experiments/mechanism.py."""
import os

from pbb.stats import mean_spread

def pick(rows, **keys):
    """Values of the rows that match keys (one per seed)."""
    return [r["value"] for r in rows if all(r.get(k) == v for k, v in keys.items())]


def fmt(values, sign=False):
    """Mean, with ± half-range over seeds when there are several; '—' when there is none."""
    if not values:
        return "—"
    m, s = mean_spread(values)
    return (f"{m:+.2f}" if sign else f"{m:.2f}") + (f" ± {s:.2f}" if len(values) > 1 else "")


def mean_of(rows, **keys):
    v = pick(rows, **keys)
    return sum(v) / len(v) if v else float("nan")


def write_report(rows, out, seconds, a):
    """mechanism.md and the figures; returns the markdown."""
    P = lambda r, part: [x for x in r if x["part"] == part]
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"# Where an internalised instruction lives (preset {a.preset}, seeds {', '.join(map(str, seeds))})", "",
             f"`python -m experiments.mechanism --preset {a.preset} --seeds {a.seeds}` ({seconds / 60:.1f} min, not "
             "counting the runner's stages it had to train). "
             "Values are means over seeds ± half-range; experiments/mechanism.py says how each is measured.", "",
             "## 1. Which parameters must change", "",
             "Proactive stage 2 (declarations of S_eval + replay) rerun from the same stage-1 checkpoint, training "
             "only "
             "the named parameters; greedy generation as eval.py.", "",
             "| trainable | S_eval recall | S_eval CoT | S_eval in-context | S_train recall | S_train CoT |",
             "|---|---|---|---|---|---|"]
    t = P(rows, "trainable")
    for comp in dict.fromkeys(r["component"] for r in t):
        cells = [fmt(pick(t, component=comp, split=s, mode=m, metric=k)) for s, m, k in
                 (("S_eval", "cot", "instruction_recall"), ("S_eval", "cot", "accuracy"),
                  ("S_eval", "incontext", "accuracy"),
                  ("S_train", "cot", "instruction_recall"), ("S_train", "cot", "accuracy"))]
        lines.append(f"| {comp} | " + " | ".join(cells) + " |")
    w = P(rows, "weight_change")
    lines += ["", "Weight change of each module in the unrestricted stage 2 (L2 norm of the difference, and relative "
              "to the module's stage-1 norm):", "", "| module | ‖Δ‖ | ‖Δ‖ / ‖θ‖ |", "|---|---|---|"]
    for comp in dict.fromkeys(r["component"] for r in w):
        lines.append(f"| {comp} | {fmt(pick(w, component=comp, metric='weight_change_norm'))} | "
                     f"{fmt(pick(w, component=comp, metric='relative_weight_change'))} |")

    k = P(rows, "knockout")
    cols = (("cot", "instruction_recall", "S_eval recall"), ("cot", "accuracy", "S_eval CoT"),
            ("incontext", "accuracy", "S_eval in-context"), ("cot", "instruction_logprob", "log p(source)"),
            ("incontext", "answer_logprob", "log p(answer), in context"))
    base = {c: pick(k, component="none", mode=c[0], metric=c[1]) for c in cols}
    lines += ["", "## 2. Which components retrieve it", "",
              "The stage-2 model with one component replaced by zero or by its mean over the intact model's own runs "
              "on S_train items (of the same mode), scored on S_eval: greedy generation as eval.py, and the "
              "teacher-forced "
              "log-probability of the restated source after a CoT prompt and of the answer after an in-context prompt "
              "(mean over items). Each cell: value (change from the intact model). Figure: knockouts.png.", "",
              "| component | ablation | " + " | ".join(c[2] for c in cols) + " | recall drop − in-context drop |",
              "|---" * (len(cols) + 3) + "|",
              "| none | none | " + " | ".join(fmt(base[c]) for c in cols) + " | |"]
    selective = []
    components = dict.fromkeys((r["component"], r["layer"], r["head"]) for r in k if r["component"] != "none")
    for comp, layer, head in components:
        name = f"{comp} {layer}" + (f".{head}" if head is not None else "")
        for abl in ("zero", "mean"):
            vals = {c: pick(k, component=comp, layer=layer, head=head, ablation=abl, mode=c[0], metric=c[1])
                    for c in cols}
            change = {c: [v - b for b, v in zip(base[c], vals[c])] for c in cols}
            sel = [c2 - c1 for c1, c2 in zip(change[cols[0]], change[cols[2]])]  # recall drop minus in-context drop
            selective.append((sum(sel) / len(sel) if sel else 0.0, name, abl))
            lines.append(f"| {name} | {abl} | " + " | ".join(f"{fmt(vals[c])} ({fmt(change[c], True)})" for c in cols)
                         + f" | {fmt(sel, True)} |")
    top = sorted(selective, reverse=True)[:6]
    lines += ["", "Needed by the internalised route more than by the in-context one (recall drop − in-context drop, "
              "largest first): " + "; ".join(f"{n} ({a_}) {s:+.2f}" for s, n, a_ in top) + "."]

    pt = P(rows, "patching")
    lines += ["", "## 3. Where it is decodable", "", "### Activation patching", ""]
    fr = [r for r in pt if r["metric"] == "fraction_restored"]
    if fr:
        n = min(r["n"] for r in fr)
        tokens = list(dict.fromkeys((r["position"], r["token"]) for r in fr))
        layers = sorted({r["layer"] for r in fr})
        lines += [f"Fraction of the clean run's preference for its own source's next token restored by patching the "
                  f"clean residual stream at one (layer, position) into the run that names another S_eval function "
                  f"({n} pairs per seed; logit difference clean {fmt(pick(pt, metric='logit_diff_clean'))}, corrupt "
                  f"{fmt(pick(pt, metric='logit_diff_corrupt'))}). Rows: the stream entering block l "
                  f"(l = {layers[-1]}: after the last block). Figure: patching.png.", "",
                  "| layer | " + " | ".join(f"`{t!r}`"[1:-1].replace("|", "\\|") for _, t in tokens) + " |",
                  "|---" * (len(tokens) + 1) + "|"]
        for l in layers:
            lines.append(f"| {l} | " + " | ".join(fmt(pick(fr, layer=l, position=p)) for p, _ in tokens) + " |")
    else:
        lines.append("No pair of S_eval functions with aligned names and differing sources (or none the clean run "
                     "prefers): nothing to patch.")
    pr = P(rows, "probe")
    lines += ["", "### Linear probe", ""]
    if pr:
        lines += ["Accuracy of a linear probe of the function's first operator / constant from the residual stream "
                  "entering each block (last row: after the last), trained on S_train functions under 25 pointer "
                  "templates: S_train scored two-fold over its functions, S_eval and S_control by the probe trained on "
                  "all of S_train; 'after' is the stage-2 model, 'before' stage 1 (its own probe). Read at the last "
                  "name token of the pointer prompt (name), and at the last token before the operator in the CoT "
                  "prompt plus "
                  "the restated source (source). Figure: probe.png.", ""]
        cols_p = [("proactive", "S_train", "S_train after"), ("proactive", "S_eval", "S_eval after"),
                  ("proactive_stage1", "S_eval", "S_eval before"), ("proactive", "S_control", "S_control after")]
        for at, target in dict.fromkeys((r["position"], r["target"]) for r in pr):
            lines += [f"| {target} at {at}: layer | " + " | ".join(c[2] for c in cols_p) + " |",
                      "|---" * (len(cols_p) + 1) + "|"]
            for l in sorted({r["layer"] for r in pr if r["layer"] is not None}):
                lines.append(f"| {l} | " + " | ".join(fmt(pick(pr, position=at, target=target, curriculum=c, split=s,
                                                            layer=l, metric="probe_accuracy"))
                                                 for c, s, _ in cols_p) + " |")
            lines.append("| chance | " + " | ".join(fmt(pick(pr, position=at, target=target, split=s, metric="chance"))
                                                    for _, s, _ in cols_p) + " |")
            lines.append("")
    else:
        lines.append("No arith functions with a parsable first statement in this corpus: no probe.")
    plot(rows, out)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "mechanism.md"), "w") as f:
        f.write(text)
    return text


def plot(rows, out):
    """knockouts.png (drops per head / layer attention / MLP), patching.png (layer x position), probe.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = [r for r in rows if r["part"] == "knockout"]
    if k:
        L = max(r["layer"] for r in k if r["layer"] is not None) + 1
        H = max((r["head"] for r in k if r["head"] is not None), default=-1) + 1
        cols = (("cot", "instruction_recall", "S_eval recall"), ("cot", "accuracy", "S_eval CoT accuracy"),
                ("incontext", "accuracy", "S_eval in-context accuracy"))
        fig, axes = plt.subplots(2, 3, figsize=(4 * 3, 2.2 + 0.45 * L * 2), squeeze=False, constrained_layout=True)
        for i, abl in enumerate(("zero", "mean")):
            for j, (mode, metric, title) in enumerate(cols):
                base = mean_of(k, component="none", mode=mode, metric=metric)
                grid = [[base - mean_of(k, component="head", layer=l, head=h, ablation=abl, mode=mode, metric=metric)
                         for h in range(H)] + [base - mean_of(k, component=c, layer=l, ablation=abl, mode=mode,
                                                              metric=metric)
                                               for c in ("attn", "mlp")] for l in range(L)]
                ax = axes[i][j]
                im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
                ax.set_xticks(range(H + 2), [f"h{h}" for h in range(H)] + ["attn", "mlp"], fontsize=7)
                ax.set_yticks(range(L), [f"layer {l}" for l in range(L)], fontsize=7)
                ax.set_title(f"{title}: drop ({abl})", fontsize=8)
                for y in range(L):
                    for x in range(H + 2):
                        ax.text(x, y, f"{grid[y][x]:.2f}", ha="center", va="center", fontsize=6)
        fig.colorbar(im, ax=axes, shrink=0.6)
        fig.savefig(os.path.join(out, "knockouts.png"), dpi=100)
        plt.close(fig)
    fr = [r for r in rows if r["part"] == "patching" and r["metric"] == "fraction_restored"]
    if fr:
        layers, tokens = sorted({r["layer"] for r in fr}), list(dict.fromkeys((r["position"], r["token"]) for r in fr))
        grid = [[mean_of(fr, layer=l, position=p) for p, _ in tokens] for l in layers]
        fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(tokens) + 1.5), 1 + 0.45 * len(layers)))
        im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(len(tokens)), [repr(t)[1:-1] for _, t in tokens], rotation=60, fontsize=7)
        ax.set_yticks(range(len(layers)), [f"into block {l}" if l < layers[-1] else "final" for l in layers],
                      fontsize=7)
        ax.set_title("fraction of the clean preference restored", fontsize=8)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "patching.png"), dpi=100)
        plt.close(fig)
    pr = [r for r in rows if r["part"] == "probe"]
    if pr:
        panels = list(dict.fromkeys((r["position"], r["target"]) for r in pr))
        fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
        for ax, (at, target) in zip(axes[0], panels):
            layers = sorted({r["layer"] for r in pr if r["layer"] is not None})
            for (c, s), style in {("proactive", "S_train"): "k.-", ("proactive", "S_eval"): "C1o-",
                                  ("proactive_stage1", "S_eval"): "C0s--", ("proactive", "S_control"): "C2x:"}.items():
                ax.plot(layers, [mean_of(pr, position=at, target=target, curriculum=c, split=s, layer=l,
                                         metric="probe_accuracy") for l in layers],
                        style, label=f"{s} {'after' if c == 'proactive' else 'before'} stage 2")
            ax.axhline(mean_of(pr, position=at, target=target, split="S_eval", metric="chance"), color="gray", lw=1,
                       ls="--", label="chance (S_eval)")
            ax.set_xlabel("residual stream entering block (last: final)", fontsize=7)
            ax.set_ylim(0, 1)
            where = "last name token" if at == "name" else "token before it"
            ax.set_title(f"{target}, read at the {where}", fontsize=8)
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "probe.png"), dpi=100)
        plt.close(fig)
