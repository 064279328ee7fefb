"""The runner's parts that every experiment script uses: the curriculum stages (STAGES, CURRICULA), one stage run
as `python train.py CONFIG` unless a finished one can be reused (run_stage, with its reuse checks), one evaluation
per checkpoint and arguments (evaluate_once), the eval items of two runs paired (pairs_of), GRPO's completion cap,
and the one-line refusal of an experiment script (cli)."""
import json
import os
import subprocess
import sys

from data.build import corpus_config
from data.format import CorpusError
from pbb.batches import open_data
from pbb.checkpoint import load_checkpoint, tokenizer_id
from pbb.common import UserError
from pbb.config import DEFAULTS, load_config
from pbb.evaluate import default_max_new_tokens, evaluate

TRAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py")
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


# keys that may differ when a finished stage is reused
NOT_COMPARED = {"out_dir", "init_from", "progress", "vocab_size", "device", "compile", "head_all_positions", "threads"}


def train_args(config, out_dir, init_from, seed, extra=()):
    """The arguments of `python train.py` that run one stage of the runner."""
    return [config, f"--out_dir={out_dir}", f"--init_from={init_from}", f"--seed={seed}", *extra,
            "--progress=false" if not sys.stderr.isatty() else "--progress=true"]


def run_stage(config, out_dir, parent_dir, seed, extra=()):
    """Trains one stage unless its checkpoint is already complete. Returns the checkpoint path.
    extra: more train.py overrides, e.g. ("--train_data=...",). A checkpoint trained with another config
    (the config file or the seed changed since), or older than the checkpoint it starts from, is refused
    with one line, not silently reused."""
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    init_from = os.path.join(parent_dir, "ckpt.pt") if parent_dir else "scratch"
    if os.path.exists(ckpt_path):
        try:
            ckpt = load_checkpoint(ckpt_path)
            wanted, _ = load_config([config, f"--out_dir={out_dir}", f"--seed={seed}", *extra])
        except UserError as e:
            raise SystemExit(f"error: {e}")
        had = {k: ckpt["config"].get(k, DEFAULTS.get(k)) for k in wanted}  # keys added since: defaults
        changed = [f"{k} {had[k]!r} -> {wanted[k]!r}" for k in wanted if k not in NOT_COMPARED and had[k] != wanted[k]]
        if changed:
            raise SystemExit(f"error: {out_dir} was trained with another config ({'; '.join(changed)}); delete it and "
                             "the stages that start from it to retrain them, or pass --out for a new results directory")
        try:
            manifest = open_data(wanted)[1]
        except (UserError, CorpusError, OSError, ValueError) as e:
            raise SystemExit(f"error: {e}")
        built, now = ckpt.get("corpus_config"), corpus_config(manifest)  # None: a checkpoint from before
        keys = [k for k in now if built is not None and built.get(k) != now[k]]
        if ckpt.get("tokenizer_id") != tokenizer_id(manifest) or keys:
            raise SystemExit(f"error: {out_dir} was trained on another build of corpus {wanted['corpus']} (the corpus "
                             "was rebuilt since"
                             f"{': its ' + ', '.join(keys) + ' differ' if keys else ', with another tokenizer'})"
                             "; delete it and the stages that start from it to retrain them, or pass --out for a new "
                             "results directory")
        if parent_dir and os.path.getmtime(init_from) > os.path.getmtime(ckpt_path):
            raise SystemExit(f"error: {out_dir} was trained from an older {init_from}; delete it to retrain it "
                             "from the current one, or pass --out for a new results directory")
        if ckpt["step"] >= ckpt["config"]["max_iters"]:
            print(f"[pbb] reusing {ckpt_path} (step {ckpt['step']})")
            return ckpt_path
        init_from = "resume"
    print(f"[pbb] training {config} -> {out_dir}", flush=True)
    rc = subprocess.run([sys.executable, TRAIN, *train_args(config, out_dir, init_from, seed, extra)]).returncode
    if rc != 0:
        raise SystemExit(f"error: stage {config} failed (exit {rc}); fix it and rerun: finished stages are reused")
    return ckpt_path


def evaluate_once(ckpt, **kw):
    """eval.evaluate's rows for ckpt, reusing its eval.json when that was written for this checkpoint (not
    older than it) with the same arguments (recorded in eval.args.json beside it)."""
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
    rows = evaluate(ckpt, log=None, progress=False, **kw)
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


def grpo_cap(manifest, extra):
    """GRPO's completion cap on a corpus (its manifest) with grammars or nested compositions, whose traces outgrow
    configs/retro_stage2_grpo.py's 64 new tokens (set for the programs' plain traces): eval.py's CoT budget, the
    longest CoT training document, so that RL does not reward only the traces short enough to finish. () for plain
    programs, or when the config's cap suffices."""
    cfg = load_config(["configs/retro_stage2_grpo.py", *extra])[0]
    need = default_max_new_tokens(manifest, "cot")
    long_traces = "grammars" in manifest["config"]["domains"] or manifest["config"].get("compose_trace") == "nested"
    return (f"--grpo_max_new_tokens={need}",) if long_traces and need > cfg["grpo_max_new_tokens"] else ()


def open_corpus_of(config, extra):
    """The manifest of the corpus a stage config trains on with the runner's overrides (built when missing)."""
    try:
        return open_data(load_config([config, *extra])[0])[1]
    except (UserError, CorpusError) as e:
        raise SystemExit(f"error: {e}")


def cli(main):
    """Runs an experiment's main(); a refusal (SystemExit with an "error: ..." string) is one line on stderr, exit 2."""
    try:
        sys.exit(main())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(2)
        raise
