"""The PBB comparison end to end: corpus -> pretrain -> homogeneous mixture, Proactive PBB and
Retroactive PBB (SFT and GRPO) -> eval -> results table (markdown), summary.json and a bar plot (PNG).

    python -m experiments.pbb [--out DIR] [--seeds N] [--jobs N] [--set [STAGE.]KEY=VALUE ...] [--from DIR]
                              [--preset cpu|gpu|micro] [--ad] [--proactive-rl] [--corpus CONFIG] [--against OTHER_OUT]
                              [--ood | --description | --compose | --grammars] [--seed S]

--jobs N runs up to N stages and evaluations side by side (pbb/runner.py: the numbers do not depend on it). --set
changes a train.py key of one stage (STAGE.KEY=VALUE) or of every curriculum stage (KEY=VALUE); --from DIR links the
stages of another results directory that this run would train identically, so that an ablation of one stage trains
only that stage and the ones after it (compare the two with `python -m experiments.compare OUT DIR`).

Beside each curriculum's scores: its paired difference from the mixture on the same eval items (same seed,
same pretrained checkpoint), with a 95% bootstrap interval over behaviours (and over seeds when there are
several): rows with metric accuracy_minus_mixture (programs) / validity_minus_mixture (grammars); and Retroactive
GRPO minus Retroactive SFT, the two stage 2s of the same stage 1 (accuracy_minus_retroactive_sft). The
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

--proactive-rl adds RL between Proactive's two stages: Retroactive's GRPO stage started from Proactive stage 1
(configs/pbb_grpo.py, stage pbb_grpo; --set pbb_grpo.KEY=VALUE, e.g. grpo_reward=trace) and its control, SFT from the
same checkpoint on S_train's CoT executions for as many steps at the same learning rate (configs/pbb_sft.py, stage
pbb_sft), each followed by Proactive stage 2 (pbb_grpo_stage2, pbb_sft_stage2; curricula proactive_grpo and
proactive_sft), with the paired differences GRPO minus SFT (metric accuracy_minus_proactive_sft) and each minus
Proactive PBB (accuracy_minus_proactive). With --from, only these four stages train. --set pbb_stage2.KEY=VALUE applies
to the two stage 2s after RL and SFT too; a length or learning rate set for pbb_grpo is not copied to pbb_sft (set
both to keep the control matched).

--ood: the out-of-distribution test (configs/corpus_ood.py, with --ad): S_train's executions and AD's demonstrations
drawn from a skewed input distribution, every evaluation input from the half the skew makes rare; with ad_demos 10 and
100, and the uniform-demonstration control beside (ad_uniform). --description: the same curricula with plain-English
descriptions for sources (configs/corpus_description.py), paired with the default run's results directory (--against)
when it exists. --compose: each behaviour of S_train, S_eval, S_control and the recall pool is, with probability 0.5,
a composition f(x) = g(h(x)) of two functions of its split, executed by nested CoT traces (configs/corpus_compose.py);
the rows of split S_eval/compose ask whether a curriculum chains two S_eval functions it has only read. --grammars:
the grammar domain on its own corpus and pretraining (configs/corpus_grammars.py: recursive right-linear grammars, CoT
traces that list the rules applied, a recall pool of grammars; configs/pretrain_grammars.py: twice the pretraining
steps). On a corpus with grammars or nested compositions GRPO may generate as many tokens as eval.py's CoT budget
(grpo_cap); with grammars the pretrained model is also evaluated with the rules and the CoT cue in its prompt (eval.py
mode incontext_cot).

Every stage is one train.py run of its config in configs/ (the preset is PBB_PRESET, read by
configs/pbb_common.py). A stage whose checkpoint is complete is reused; a partial one is resumed; an
evaluation of a checkpoint with the same arguments is reused (eval.args.json beside its eval.json).
--seed S trains and evaluates seed S only and writes no summary: seeds can run in parallel processes on the
same OUT, and a later run with --seeds N collects them (reusing everything).
"""
import argparse
import json
import os
import time

from data.build import EVAL_SPLITS, MODES
from pbb.common import UserError
from pbb.report import instruction_worth, plot_curves, write_report
from pbb.runner import (CURRICULA, PRETRAIN, STAGES, base_checks, check_stage, cli, eval_job, gate_job, gate_rows,
                        grpo_cap, missing_evals, open_corpus_of, pairs_of, parse_sets, run_jobs, stage_job,
                        stage_overrides)
from pbb.stats import paired_rows


# --proactive-rl: (stage, config, the stage it starts from) of GRPO between Proactive's two stages and of its SFT
# control, and the curricula they end (curriculum -> its last stage)
RL_STAGES = [("pbb_grpo", "configs/pbb_grpo.py", "pbb_stage1"),
             ("pbb_grpo_stage2", "configs/pbb_stage2.py", "pbb_grpo"),
             ("pbb_sft", "configs/pbb_sft.py", "pbb_stage1"),
             ("pbb_sft_stage2", "configs/pbb_stage2.py", "pbb_sft")]
RL_CURRICULA = {"proactive_grpo": "pbb_grpo_stage2", "proactive_sft": "pbb_sft_stage2"}


def rl_jobs(root, seed, eval_kw, sink, args, there=None):
    """--proactive-rl: the stages of RL_STAGES and the evaluations of RL_CURRICULA, as jobs; sink(curriculum, rows).
    args: {stage: train.py overrides}. there: another run's seed directory whose identical stages are linked
    (--from)."""
    jobs = []
    for stage, config, parent in RL_STAGES:
        here, start = os.path.join(root, stage), os.path.join(root, parent)
        reuse = there and (os.path.join(there, stage), os.path.join(there, parent))
        jobs.append(stage_job(here, [start], config, here, start, seed, args[stage], reuse))
    for curriculum, stage in RL_CURRICULA.items():
        here = os.path.join(root, stage)
        jobs.append(eval_job(here + "/eval", [here], os.path.join(here, "ckpt.pt"),
                             lambda rows, c=curriculum: sink(c, rows), splits=EVAL_SPLITS, curriculum=curriculum,
                             **eval_kw))
    return jobs


def ad_jobs(root, seed, manifest, eval_kw, sink, extra=(), sets=None, there=None):
    """Algorithm distillation from the Proactive stage-1 checkpoint, one stage per N in the corpus's ad_demos
    (stage name "ad" for --set), and their evaluations (S_eval and S_control), as jobs; sink(curriculum, N, rows).
    there: another run's seed directory whose identical AD stages are linked (--from)."""
    jobs = []
    for n in sorted(set(manifest["config"]["ad_demos"])):
        for curriculum, mix in (("ad", "exec_S_eval_N"), ("ad_uniform", "exec_S_eval_uniform_N")):
            if f"{mix}{n}" not in manifest["mixtures"]:  # ad_uniform: only with the corpus's ad_uniform_control
                continue
            here = os.path.join(root, f"{curriculum}_N{n}")
            args = (f"--train_data={mix}{n},pretrain_replay", *extra, *stage_overrides(sets or {}, "ad"))
            reuse = there and (os.path.join(there, f"{curriculum}_N{n}"), os.path.join(there, "pbb_stage1"))
            jobs.append(stage_job(here, [os.path.join(root, "pbb_stage1")], "configs/ad.py", here,
                                  os.path.join(root, "pbb_stage1"), seed, args, reuse))
            jobs.append(eval_job(here + "/eval", [here], os.path.join(here, "ckpt.pt"),
                                 lambda rows, c=curriculum, n=n: sink(c, n, rows), splits=("S_eval", "S_control"),
                                 modes=("implicit", "cot"), curriculum=curriculum, **eval_kw))
    return jobs


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.pbb", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="results directory (default out/pbb/PRESET)")
    p.add_argument("--seeds", type=int, default=1, help="number of training seeds (0, 1, ...)")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--jobs", type=int, default=2, help="stages and evaluations run side by side (default 2; the "
                   "numbers do not depend on it: pbb/runner.py)")
    p.add_argument("--set", action="append", default=[], metavar="[STAGE.]KEY=VALUE",
                   help="a train.py key for one stage (pretrain, mixture, pbb_stage1, pbb_stage2, retro_stage1, "
                   "retro_stage2_sft, retro_stage2_grpo, ad; with --proactive-rl also pbb_grpo, pbb_sft, "
                   "pbb_grpo_stage2, pbb_sft_stage2) or, without STAGE, for every curriculum stage; repeatable")
    p.add_argument("--from", dest="base", default=None, metavar="DIR", help="another results directory whose "
                   "finished stages this run links instead of training them again, where the config, seed and starting "
                   "checkpoint are the same (an ablation of one stage trains only that stage and what follows it)")
    p.add_argument("--samples", type=int, default=None, help="grammar samples per prompt (eval.py's default if unset)")
    p.add_argument("--ad", action="store_true", help="also run the algorithm-distillation sweep (N demonstrations)")
    p.add_argument("--proactive-rl", action="store_true", help="also GRPO between Proactive's stages, and its control, "
                   "SFT on S_train's CoT executions for as many steps (curricula proactive_grpo, proactive_sft)")
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
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    os.environ["PBB_PRESET"] = a.preset
    default_out = os.path.join("out", "pbb", a.preset)
    corpus_flag = next((f for f in ("ood", "description", "compose", "grammars") if getattr(a, f)), None)
    out = a.out or default_out + (f"_{corpus_flag}" if corpus_flag else "")
    if corpus_flag and a.preset != "cpu" and a.corpus is None:
        p.error(f"--{corpus_flag} changes the cpu preset's corpus; with another preset pass --corpus too")
    if corpus_flag:
        a.corpus = a.corpus or f"configs/corpus_{corpus_flag}.py"
        a.ad = a.ad or a.ood
    gated = corpus_flag == "grammars"  # the grammar pretraining's gate
    base = "base" if gated else "pretrain"  # the pretraining the curricula start from
    evaluated = dict(CURRICULA, pretrain=base)
    paired = {**evaluated, **(RL_CURRICULA if a.proactive_rl else {})}  # what --against pairs
    stages = STAGES + (RL_STAGES if a.proactive_rl else [])
    if a.description and a.against is None and not missing_evals(default_out, a.seeds, paired.values()):
        a.against = default_out  # the source run of the same behaviours and eval items, every seed of it
    extra = (f"--corpus={a.corpus}",) if a.corpus else ()
    sets = parse_sets(a.set, [s for s, _, _ in STAGES + RL_STAGES] + ["ad"])
    unused = [s for s, _, _ in RL_STAGES if s in sets and not a.proactive_rl]
    if unused:
        raise SystemExit(f"error: --set {unused[0]}.* sets a stage of --proactive-rl; pass --proactive-rl too")
    if a.base and not os.path.isdir(a.base):
        raise SystemExit(f"error: --from {a.base} is not a results directory; pass one written by this runner")
    t0 = time.time()
    missing = a.against and missing_evals(a.against, a.seeds, paired.values())
    if missing:
        raise SystemExit(f"error: --against {a.against} has no evaluation of {', '.join(missing[:3])}; run it with "
                         f"--seeds {a.seeds} first (finished stages are reused), or pass fewer --seeds")
    configs = {stage: PRETRAIN.get(corpus_flag, config) if stage == "pretrain" else config
               for stage, config, _ in stages}
    args = {stage: (*extra, *stage_overrides(sets, stage)) for stage in configs}
    for stage in ("pbb_grpo_stage2", "pbb_sft_stage2"):  # Proactive's stage 2 after RL or SFT: pbb_stage2's recipe,
        if stage in args:  # then the stage's own overrides
            args[stage] = (*extra, *stage_overrides(sets, "pbb_stage2"), *sets.get(stage, []))
    manifest = open_corpus_of(configs["pretrain"], args["pretrain"])  # every stage's corpus (--corpus / --set corpus)
    grammars = "grammars" in manifest["config"]["domains"]
    for stage, config in [*configs.items(), ("ad", "configs/ad.py")]:  # every override checked before anything runs
        try:
            check_stage(stage, config, args.get(stage, (*extra, *stage_overrides(sets, "ad"))))
        except UserError as e:
            raise SystemExit(f"error: {e}")
    for stage in [s for s in ("retro_stage2_grpo", "pbb_grpo") if s in args]:
        if not any(x.startswith("--grpo_max_new_tokens=") for x in args[stage]):  # unless --set says
            args[stage] += grpo_cap(manifest, args[stage])
    kw = {} if a.samples is None else {"samples": a.samples}
    seeds = range(a.seeds) if a.seed is None else [a.seed]
    got, jobs = {}, []  # got: (seed, curriculum, demos) -> eval rows
    for seed in seeds:
        root = os.path.join(out, f"seed{seed}")
        there = a.base and os.path.join(a.base, f"seed{seed}")
        if gated:  # the grammar pretraining's gate (pbb/runner.py): root/base is the pretraining it settles on
            more = (*extra, *stage_overrides({None: sets.get(None, [])}, "pretrain"), "--threads=0")  # not pretrain.*
            jobs.append(gate_job(os.path.join(root, "base"), root, seed, more, there))
        for stage, _, parent in STAGES:
            parent = base if parent == "pretrain" else parent
            deps = [os.path.join(root, parent)] if parent else []
            reuse = there and (os.path.join(there, stage), parent and os.path.join(there, parent))
            jobs.append(stage_job(os.path.join(root, stage), deps, configs[stage], os.path.join(root, stage),
                                  parent and os.path.join(root, parent), seed, args[stage], reuse))
        # the base model with grammars: also its derivation from the rules in context (eval.py mode incontext_cot)
        for curriculum, stage in evaluated.items():
            splits = ("S_eval", "pretrain_recall_val") if curriculum == "pretrain" else EVAL_SPLITS
            more = {"modes": [*MODES, "incontext_cot"]} if curriculum == "pretrain" and grammars else {}
            here = os.path.join(root, stage)
            jobs.append(eval_job(here + "/eval", [here], os.path.join(here, "ckpt.pt"),
                                 lambda rows, k=(seed, curriculum, None): got.__setitem__(k, rows),
                                 splits=splits, curriculum=curriculum, **kw, **more))
        if a.proactive_rl:
            jobs += rl_jobs(root, seed, kw, lambda c, rows, s=seed: got.__setitem__((s, c, None), rows), args, there)
        if a.ad:
            jobs += ad_jobs(root, seed, manifest, kw, lambda c, n, rows, s=seed: got.__setitem__((s, c, n), rows),
                            extra, sets, there)
    run_jobs(jobs, a.jobs)
    order = [*evaluated, *RL_CURRICULA, "ad", "ad_uniform"]
    rows = [{**r, "seed": s, **({"demos": n} if n is not None else {})}
            for (s, c, n), rs in sorted(got.items(), key=lambda kv: (kv[0][0], kv[0][2] or 0, order.index(kv[0][1])))
            for r in rs]  # a fixed order, whichever evaluation finished first
    for seed in seeds:
        plot_curves(os.path.join(out, f"seed{seed}"), [s for s, _, _ in stages] + ["pretrain_more1", "pretrain_more2"])
        checks = base_checks(rows, seed)
        rows += gate_rows(os.path.join(out, f"seed{seed}"), seed) + checks
        print(f"[pbb] seed {seed}, base model: " + "; ".join(
            f"{r['domain']} {r['split']} {r['mode']} {r['checked']} {r['value']:.3f} "
            f"({'>=' if r['passed'] else 'BELOW'} {r['threshold']})" for r in checks)
            + ("" if all(r["passed"] for r in checks) else " -- FLAGGED"))
    if a.seed is not None:
        print(f"[pbb] seed {a.seed} done, {time.time() - t0:.0f} s; collect the seeds with --seeds N")
        return 0
    seeds = range(a.seeds)
    for curriculum, stage in CURRICULA.items():
        if curriculum != "mixture":
            rows += paired_rows(pairs_of(out, stage, out, "mixture", seeds), curriculum, "mixture")
    # RL against SFT after the same Retroactive stage 1 (metric accuracy_minus_retroactive_sft)
    rows += paired_rows(pairs_of(out, "retro_stage2_grpo", out, "retro_stage2_sft", seeds), "retroactive_grpo",
                        "retroactive_sft")
    if a.proactive_rl:  # GRPO against its SFT control, both after the same Proactive stage 1; each against Proactive
        rows += paired_rows(pairs_of(out, "pbb_grpo_stage2", out, "pbb_sft_stage2", seeds), "proactive_grpo",
                            "proactive_sft")
        for curriculum, stage in RL_CURRICULA.items():
            rows += paired_rows(pairs_of(out, stage, out, "pbb_stage2", seeds), curriculum, "proactive")
    for n in sorted({r["demos"] for r in rows if r["curriculum"] == "ad"}):
        pairs = pairs_of(out, f"ad_N{n}", out, "pbb_stage2", seeds)
        rows += [{**r, "demos": n} for r in paired_rows(pairs, "ad", "proactive")]
        if any(r["curriculum"] == "ad_uniform" and r["demos"] == n for r in rows):  # the OOD control, same items
            rows += [{**r, "demos": n} for r in paired_rows(pairs_of(out, f"ad_uniform_N{n}", out, f"ad_N{n}", seeds),
                                                            "ad_uniform", "ad")]
    if a.against:
        for curriculum, stage in paired.items():
            pairs = pairs_of(out, stage, a.against, stage, seeds)
            rows += [{**r, "against": a.against} for r in paired_rows(pairs, curriculum, "against")]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(write_report(rows, out))
    print(f"[pbb] {time.time() - t0:.0f} s; results in {out}: summary.json, results.md, results.png, "
          "seedN/curves.png" + (", results_ad.png" if a.ad and instruction_worth(rows) else ""))
    return 0


if __name__ == "__main__":
    cli(main)
