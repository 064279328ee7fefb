"""Stepwise internalisation of the CoT (Deng et al., arXiv 2405.14838), then Proactive stage 2: can a model that
learnt to execute S_train without writing the trace execute S_eval, whose sources it has only read?

    python -m experiments.internalise [--run DIR] [--out DIR] [--seeds N] [--preset cpu|gpu|micro] [--steps K]

From each seed's Proactive stage 1 (DIR/seedN/pbb_stage1 of a runner results directory, default out/pbb/PRESET;
the runner's stages pretrain, pbb_stage1 and pbb_stage2 are trained there first when missing, as
`python -m experiments.pbb` would), one stage per k of the corpus key cot_internalise
(internalise_drop{k}, --steps each, default half a curriculum stage; k from --drops, default 1,2,3,4,99): S_train's
declarations, direct executions
and CoT executions whose first k trace parts are removed (the restated source first, then one line at a time;
the last k leaves an empty trace), each stage starting from the one before. Then stage 2 as Proactive's
(internalise_stage2, a curriculum stage's steps): S_eval's declarations, with a replay of the last stage's S_train
executions and the pretrain replay, drawn in the shares of Proactive stage 2's documents (train_weights).
The corpus (OUT/corpus_internalise.py, built in OUT/corpus) is the preset's plus the drop mixtures: same tokenizer,
pretraining documents and eval items, so the runner's checkpoints train on it.

Evaluated (implicit and CoT, S_train / S_eval / S_control): the last internalisation stage (curriculum
"internalised_stage1") and stage 2 ("proactive_internalised"); each is paired with the run's Proactive stage 1 /
stage 2 on the same items (metric accuracy_minus_proactive, 95% bootstrap interval over behaviours and seeds).
Writes OUT/summary.json (rows as the runner's), OUT/results.md and results.png; OUT defaults to
out/internalise/PRESET.
"""
import argparse
import json
import os
import time

from data.build import EVAL_SPLITS
from pbb.batches import open_data
from pbb.common import UserError
from pbb.config import load_config
from pbb.report import write_report
from pbb.runner import STAGES, cli, evaluate_once, pairs_of, run_stage
from pbb.stats import paired_rows

MODES = ("implicit", "cot")


def stage2_args(manifest, last):
    """Stage 2's train.py overrides: Proactive stage 2's shares of documents (decl_S_eval, its replay of stage 1,
    pretrain_replay), the replay now the last internalisation stage's executions (half direct, half dropped CoT)."""
    mix = manifest["mixtures"]
    replay = mix["replay"]["docs"]
    names = ["decl_S_eval", "exec_S_train", f"exec_cot_S_train_drop{last}", "pretrain_replay"]
    weights = [mix["decl_S_eval"]["docs"], replay / 2, replay / 2, mix["pretrain_replay"]["docs"]]
    return [f"--train_data={','.join(names)}", f"--train_weights={weights}"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments.internalise", description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=None,
                   help="runner results directory with seedN/pbb_stage1 (default out/pbb/PRESET)")
    p.add_argument("--out", default=None, help="results directory (default out/internalise/PRESET)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu", "micro"])
    p.add_argument("--steps", type=int, default=None, help="steps per internalisation stage (default half a stage)")
    p.add_argument("--drops", default="1,2,3,4,99", help="trace parts removed, stage by stage (cot_internalise)")
    a = p.parse_args(argv)
    os.environ["PBB_PRESET"] = a.preset
    run = a.run or os.path.join("out", "pbb", a.preset)
    out = a.out or os.path.join("out", "internalise", a.preset)
    stage_cfg, _ = load_config(["configs/pbb_stage2.py"])
    steps = a.steps or max(1, stage_cfg["max_iters"] // 2)
    drops = sorted({int(k) for k in a.drops.split(",")})
    os.makedirs(out, exist_ok=True)
    cfg_path = os.path.join(out, "corpus_internalise.py")  # the preset's corpus plus the drop mixtures
    with open(cfg_path, "w") as f:
        module = os.path.splitext(os.path.normpath(stage_cfg["corpus"]))[0].replace(os.sep, ".")
        f.write(f"from {module} import *\n\ncot_internalise = {drops}\n")
    try:
        data_dir, manifest = open_data({**stage_cfg, "corpus": cfg_path, "data_dir": os.path.join(out, "corpus")})
    except UserError as e:
        raise SystemExit(f"error: {e}")
    corpus = [f"--corpus={cfg_path}", f"--data_dir={data_dir}"]
    t0, rows, seeds = time.time(), [], range(a.seeds)
    for seed in seeds:
        root, mine = os.path.join(run, f"seed{seed}"), os.path.join(out, f"seed{seed}")
        for stage, config, parent in STAGES[:1] + [s for s in STAGES if s[0] in ("pbb_stage1", "pbb_stage2")]:
            run_stage(config, os.path.join(root, stage), parent and os.path.join(root, parent), seed)
        parent = os.path.join(root, "pbb_stage1")
        for k in drops:
            here = os.path.join(mine, f"internalise_drop{k}")
            run_stage("configs/pbb_stage1.py", here, parent, seed, corpus + [
                f"--train_data=decl_S_train,exec_S_train,exec_cot_S_train_drop{k},pretrain_replay",
                f"--max_iters={steps}",
                f"--eval_interval={max(1, steps // 2)}"])
            parent = here
        last = parent
        run_stage("configs/pbb_stage2.py", os.path.join(mine, "internalise_stage2"), last, seed,
                  corpus + stage2_args(manifest, drops[-1]))
        # the two internalised checkpoints, and the run's Proactive stages they are paired with, on the same items; all
        # with the runner's evaluation arguments, so that the run's own eval.json of Proactive is reused, never replaced
        for stage, name in ((os.path.join(mine, "internalise_stage2"), "proactive_internalised"),
                            (last, "internalised_stage1"), (os.path.join(root, "pbb_stage2"), "proactive"),
                            (os.path.join(root, "pbb_stage1"), "proactive_stage1")):
            for r in evaluate_once(os.path.join(stage, "ckpt.pt"), splits=EVAL_SPLITS, curriculum=name):
                if r["mode"] in MODES:
                    rows.append({**r, "seed": seed})
    rows += paired_rows(pairs_of(out, "internalise_stage2", run, "pbb_stage2", seeds), "proactive_internalised",
                        "proactive")
    rows += paired_rows(pairs_of(out, f"internalise_drop{drops[-1]}", run, "pbb_stage1", seeds), "internalised_stage1",
                        "proactive")  # stage 1 against stage 1: metric accuracy_minus_proactive, curriculum tells which
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(write_report(rows, out))
    print(f"[internalise] {time.time() - t0:.0f} s; results in {out}: summary.json, results.md")
    return 0


if __name__ == "__main__":
    cli(main)
