"""Paired comparisons: the difference between two checkpoints scored on the same eval items, with a 95% bootstrap
interval over behaviours (and seeds)."""
import numpy as np

MAIN_METRIC = {"programs": "accuracy", "grammars": "validity"}  # what a paired difference compares, per domain


def paired_rows(pairs, curriculum, ref, n_boot=2000):
    """Rows of the paired difference (curriculum minus ref) per DOMAIN.SPLIT.MODE. pairs: {seed: (items_a,
    items_b)}, eval_items.json dicts of two checkpoints scored on the same items. The 95% interval is a
    bootstrap that resamples behaviours (all items of a behaviour together) within each seed and, with
    several seeds, the seeds too; value = mean over seeds of the mean per-item difference."""
    rng, rows = np.random.default_rng(0), []
    keys = [k for k in next(iter(pairs.values()))[0] if not k.endswith(".behaviour") and not k.startswith("_")]
    for key in keys:
        # DOMAIN.SPLIT.MODE (the main metric), or DOMAIN.SPLIT.MODE.METRIC: another per-item score of the same items
        # (eval.py's placement of a composition's failure, e.g. g_restated)
        domain, split, mode, *sub = key.split(".")
        items = f"{domain}.{split}.{mode}"
        if any(key not in a or key not in b or len(a[key]) != len(a.get(items + ".behaviour", ()))
               for a, b in pairs.values()):  # a run not scored on these items (e.g. an evaluation from before
            # per-family rows, reused), or a score of some of them only
            continue
        per_seed = {}  # seed -> (sum of differences per behaviour, items per behaviour)
        for seed, (a, b) in sorted(pairs.items()):
            file_key = f"{domain}.{split.split('/')[0]}.{mode}"  # a family's items come from its split's file
            files = [x.get("_files", {}).get(file_key) for x in (a, b)]  # evaluations from before: behaviours only
            if a[items + ".behaviour"] != b[items + ".behaviour"] or (None not in files and files[0] != files[1]):
                raise SystemExit(f"error: {key} holds other eval items in the two runs compared (seed {seed}); pair "
                                 "runs evaluated on the same items (the same behaviours and eval inputs)")
            names = a[items + ".behaviour"]
            order = {n: i for i, n in enumerate(dict.fromkeys(names))}
            idx, d = np.array([order[n] for n in names]), np.array(a[key]) - np.array(b[key])
            per_seed[seed] = (np.bincount(idx, d), np.bincount(idx))

        def estimate(seeds, picks):
            return np.mean([per_seed[s][0][p].sum() / per_seed[s][1][p].sum() for s, p in zip(seeds, picks)], axis=0)
        seeds = sorted(per_seed)
        metric = f"{sub[0] if sub else MAIN_METRIC[domain]}_minus_{ref}"
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


def mean_spread(values):
    m = sum(values) / len(values)
    return m, (max(values) - min(values)) / 2
