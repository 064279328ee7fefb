"""The runner's parts that every experiment script uses: the curriculum stages (STAGES, CURRICULA), one stage run
as `python train.py CONFIG` unless a finished one can be reused (run_stage, with its reuse checks), one evaluation
per checkpoint and arguments as `python eval.py` (evaluate_once), jobs run side by side (run_jobs), stage-targeted
overrides (parse_sets, stage_overrides), the eval items of two runs paired (pairs_of), GRPO's completion cap, and the
one-line refusal of an experiment script (cli).

Threads: a stage that starts from a checkpoint and every evaluation run on STAGE_THREADS CPU threads, whatever the
number of jobs side by side, so that --jobs changes how long a run takes and not its numbers; pretraining from
scratch keeps torch's default (every core)."""
import codecs
import ctypes
import difflib
import json
import multiprocessing
import os
import runpy
import signal
import sys
import time

from data.build import corpus_config
from data.format import CorpusError
from pbb.batches import open_data
from pbb.checkpoint import load_checkpoint, tokenizer_id
from pbb.common import UserError
from pbb.config import ARCH_KEYS, DEFAULTS, load_config
from pbb.evaluate import default_max_new_tokens

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN, EVAL = os.path.join(REPO, "train.py"), os.path.join(REPO, "eval.py")
STAGE_THREADS = 1
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


# a corpus's files that fix a pretraining: its tokenizer's (*.tiktoken) and these
PRETRAIN_FILES = ("pretrain.tokens.npy", "pretrain.weights.npy", "pretrain.offsets.npy")


def pretraining_files(manifest):
    """{file: hash} of the corpus files that fix a pretraining: its tokenizer's, then PRETRAIN_FILES."""
    files = manifest["files"]
    return {**{f: h for f, h in files.items() if f.endswith(".tiktoken")},
            **{f: files[f] for f in PRETRAIN_FILES if f in files}}


# keys that may differ when a finished stage is reused
NOT_COMPARED = {"out_dir", "init_from", "progress", "vocab_size", "device", "compile", "head_all_positions", "threads",
                "wandb"}


def train_args(config, out_dir, init_from, seed, extra=(), threads=0):
    """The arguments of `python train.py` that run one stage of the runner (threads: the module docstring)."""
    threads = [f"--threads={threads}"] if threads else []
    return [config, f"--out_dir={out_dir}", f"--init_from={init_from}", f"--seed={seed}", *threads, *extra,
            "--progress=false" if not sys.stderr.isatty() else "--progress=true"]


def plan_stage(config, out_dir, parent_dir, seed, extra=(), quiet=False):
    """(checkpoint path, the `python train.py` command that trains or resumes the stage, or None when its checkpoint is
    complete and may be reused). extra: more train.py overrides, e.g. ("--train_data=...",). A checkpoint trained with
    another config (the config file or the seed changed since), or older than the checkpoint it starts from, is
    refused with one line, not silently reused."""
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
        if changed and parent_dir is None and ckpt["step"] >= ckpt["config"]["max_iters"] and \
                same_pretraining_data(ckpt["config"], wanted, changed):
            if not quiet:
                print(f"[pbb] reusing {ckpt_path} (step {ckpt['step']}), pretrained on {had['corpus']}: the same "
                      f"tokenizer and pretraining documents as {wanted['corpus']}")
            return ckpt_path, None
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
            if not quiet:
                print(f"[pbb] reusing {ckpt_path} (step {ckpt['step']})")
            return ckpt_path, None
        init_from = "resume"
    if not quiet:
        print(f"[pbb] training {config} -> {out_dir}", flush=True)
    threads = STAGE_THREADS if parent_dir else 0  # pretraining from scratch, resumed or not: torch's default
    return ckpt_path, [sys.executable, TRAIN, *train_args(config, out_dir, init_from, seed, extra, threads)]


def same_pretraining_data(had, wanted, changed):
    """Whether a pretraining with config `had` trained what one with config `wanted` would: `changed` (plan_stage's
    list) names the corpus's path only (corpus, data_dir), and the two corpora have the same tokenizer and pretraining
    documents (manifest hashes; e.g. a corpus with s_train_extra beside the one without)."""
    if any(c.split(" ", 1)[0] not in ("corpus", "data_dir") for c in changed):
        return False
    try:
        theirs, mine = (pretraining_files(open_data(c)[1]) for c in (had, wanted))
    except (UserError, CorpusError, OSError, ValueError):
        return False
    return theirs == mine


def run_stage(config, out_dir, parent_dir, seed, extra=()):
    """Trains one stage unless its checkpoint is already complete (plan_stage), its output on this terminal. Returns
    the checkpoint path."""
    ckpt_path, argv = plan_stage(config, out_dir, parent_dir, seed, extra)
    if argv is not None:
        run_child(argv, os.path.join(out_dir, "train.log"), f"stage {config} -> {out_dir}",
                  "fix it and rerun: finished stages are reused")
    return ckpt_path


def run_child(argv, log, what, then):
    """Runs argv to its end, its output to log and this terminal; one line naming `what`, the log and `then` (what to
    do) when it fails."""
    rc = Child(argv, log, echo=True).wait()
    if rc != 0:
        raise SystemExit(f"error: {what} failed (exit {rc}), its log: {log}; {then}")


def stage_job(name, deps, config, out_dir, parent_dir, seed, extra=(), reuse=None):
    """A Job (run_jobs) that trains one stage as run_stage does. reuse: (the same stage of another run, the stage it
    started from): when that one is finished, was trained with the same config and seed, and started from the
    checkpoint this one starts from, out_dir links its checkpoint instead (the runner's --from)."""
    def launch():
        if reuse and not os.path.lexists(out_dir):
            link_same(config, out_dir, parent_dir, seed, extra, *reuse)
        argv = plan_stage(config, out_dir, parent_dir, seed, extra)[1]
        return argv, os.path.join(out_dir, "train.log"), lambda: None
    return Job(name, deps, launch)


def link_same(config, out_dir, parent_dir, seed, extra, there, there_parent):
    """Links out_dir to `there` when that stage is the one out_dir would train (stage_job's reuse)."""
    real = lambda d: os.path.realpath(os.path.join(d, "ckpt.pt"))
    same_start = (parent_dir is None and there_parent is None) or (
        parent_dir is not None and there_parent is not None and real(parent_dir) == real(there_parent))
    if not same_start or not os.path.exists(os.path.join(there, "ckpt.pt")):
        return
    try:
        argv = plan_stage(config, there, there_parent, seed, extra, quiet=True)[1]
    except SystemExit:  # another config or corpus: this run trains its own
        return
    if argv is None:  # its files linked into a directory of this run's own (its evaluation too, reused when this run
        # asks for the same one; another is written here, replacing the links)
        os.makedirs(out_dir, exist_ok=True)
        for f in ("ckpt.pt", "config.json", "metrics.jsonl", "eval.json", "eval_items.json", "eval.args.json"):
            if os.path.exists(os.path.join(there, f)):
                os.symlink(os.path.abspath(os.path.join(there, f)), os.path.join(out_dir, f))
        print(f"[pbb] {out_dir}: the checkpoint of {there} (same config, seed and start), linked")


def plan_eval(ckpt, kw):
    """(its rows, None) when ckpt's eval.json was written for this checkpoint (not older than it) with the same
    arguments (recorded in eval.args.json beside it); else (None, the `python eval.py` command that writes them)."""
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
                    return json.load(g), None
    flags = [f"--{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in kw.items()]
    print(f"[pbb] evaluating {ckpt}", flush=True)
    return None, [sys.executable, EVAL, f"--ckpt={ckpt}", *flags, f"--threads={STAGE_THREADS}", "--no_progress",
                  "--quiet"]


def finish_eval(ckpt, kw):
    """The rows `python eval.py` wrote for ckpt, once it has; records its arguments (eval.args.json)."""
    d = os.path.dirname(ckpt)
    with open(os.path.join(d, "eval.args.json.tmp"), "w") as f:  # replaced, not written through a link (--from)
        json.dump(json.loads(json.dumps(kw)), f)
    os.replace(os.path.join(d, "eval.args.json.tmp"), os.path.join(d, "eval.args.json"))
    with open(os.path.join(d, "eval.json")) as f:
        return json.load(f)


def evaluate_once(ckpt, **kw):
    """eval.py's rows for ckpt (keyword arguments: its options, e.g. splits, modes, curriculum, samples), evaluated
    now unless its eval.json can be reused (plan_eval)."""
    rows, argv = plan_eval(ckpt, kw)
    if argv is None:
        return rows
    run_child(argv, os.path.join(os.path.dirname(ckpt), "eval.log"), f"evaluating {ckpt}",
              "fix it and rerun: finished stages are reused")
    return finish_eval(ckpt, kw)


def eval_job(name, deps, ckpt, sink, **kw):
    """A Job (run_jobs) that evaluates ckpt as evaluate_once does and hands its rows to sink(rows)."""
    def launch():
        rows, argv = plan_eval(ckpt, kw)
        if argv is None:
            return None, None, lambda: sink(rows)
        return argv, os.path.join(os.path.dirname(ckpt), "eval.log"), lambda: sink(finish_eval(ckpt, kw))
    return Job(name, deps, launch)


class Child:
    """`python SCRIPT ARGS` (argv: [python, SCRIPT, ARGS...]) run as a fork of a server process that has imported torch
    once (multiprocessing's forkserver), in this process's working directory and environment: a stage or an evaluation
    starts in a fraction of a second instead of the ~2 s of a fresh `import torch`. Its output goes to `log`, and with
    echo also to this process's stdout as it comes. The interface is subprocess.Popen's: poll(), wait(), returncode,
    send_signal()."""
    _context = None

    def __init__(self, argv, log, echo=False):
        if Child._context is None:
            Child._context = multiprocessing.get_context("forkserver")
            Child._context.set_forkserver_preload(["torch", "numpy", "pbb.config", "pbb.evaluate"])
        os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
        open(log, "w").close()
        self.reader = open(log, "rb") if echo else None
        self.decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        self.process = Child._context.Process(target=run_script, args=(argv[1], argv[2:], log, dict(os.environ),
                                                                      os.getcwd()))
        self.process.start()

    def relay(self):
        data = self.decode(self.reader.read()) if self.reader else ""
        if data:
            sys.stdout.write(data)
            sys.stdout.flush()

    def poll(self):
        alive = self.process.is_alive()
        self.relay()
        if alive:
            return None
        if self.reader:
            self.reader.close()
            self.reader = None
        return self.returncode

    def wait(self):
        try:
            while self.poll() is None:
                time.sleep(0.05)
        finally:  # interrupted (Ctrl-C, SIGTERM): the child stops too; a stage checkpoints
            if self.process.is_alive():
                self.send_signal(signal.SIGTERM)
                self.process.join()
        return self.returncode

    @property
    def returncode(self):
        return self.process.exitcode

    def send_signal(self, sig):
        if self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, sig)


def run_script(path, args, log, environ, cwd):
    """In a Child: `python path args`, its output appended to log."""
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    try:  # a child outlives no runner: SIGTERM (a stage checkpoints) when the fork server, its parent, ends
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.argv = [path, *args]
    runpy.run_path(path, run_name="__main__")


class Job:
    """One step of a run: launch() -> (the command to run, or None when there is nothing to do; its log file; what to
    call once it has succeeded). It starts once every job named in deps has finished."""

    def __init__(self, name, deps, launch):
        self.name, self.deps, self.launch = name, list(deps), launch


def run_jobs(jobs, n_jobs=1):
    """Runs the jobs, at most n_jobs side by side, each once the jobs it depends on have finished, in the order given
    among those ready. Each one's output goes to its log file, and with one job at a time to this terminal too. A
    failed job stops the others (SIGTERM: a stage checkpoints and is resumed by the next run) and the run, with one
    line naming its log."""
    pending, running, done = list(jobs), {}, set()
    names = {j.name for j in jobs}
    if any(d not in names for j in jobs for d in j.deps):
        raise ValueError("a job depends on a job that is not in the run")
    try:
        while pending or running:
            ready = [j for j in pending if set(j.deps) <= done]
            if ready and len(running) < n_jobs:
                job = ready[0]
                pending.remove(job)
                argv, log, finish = job.launch()
                if argv is None:
                    finish()
                    done.add(job.name)
                    continue
                running[job.name] = (Child(argv, log, echo=n_jobs == 1), finish, log, n_jobs > 1)
                continue
            if not running:
                raise ValueError(f"jobs {', '.join(j.name for j in pending)} wait for each other")
            time.sleep(0.05)
            for name, (proc, finish, log, out) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                if proc.returncode != 0:
                    if out:  # its output was not shown: the end of its log
                        with open(log) as f:
                            print("".join(f.readlines()[-15:]), file=sys.stderr, end="")
                    raise SystemExit(f"error: {name} failed (exit {proc.returncode}), its log: {log}; fix it and "
                                     "rerun: finished stages and evaluations are reused")
                finish()
                done.add(name)
    finally:
        for proc, _, _, _ in running.values():  # stopped early: the others stop too (a stage checkpoints)
            proc.send_signal(signal.SIGTERM)
        for proc, _, _, _ in running.values():
            proc.wait()


def parse_sets(items, stages, name=lambda item: f"--set {item}"):
    """{stage or None: ["--key=value", ...]} of --set STAGE.KEY=VALUE (one stage) and --set KEY=VALUE (every
    curriculum stage; pretraining too for the keys a checkpoint fixes: the architecture and the corpus). Refused in
    one line: an unknown stage or key, a missing '='. name(item): what the refusal calls an item."""
    sets = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"error: {name(item)}: write STAGE.KEY=VALUE or KEY=VALUE")
        target, value = item.split("=", 1)
        stage, key = target.rsplit(".", 1) if "." in target else (None, target)
        if stage is not None and stage not in stages:
            close = difflib.get_close_matches(stage, stages, n=1)
            raise SystemExit(f"error: {name(item)}: no stage '{stage}'"
                             + (f"; did you mean '{close[0]}'?" if close else f"; stages: {', '.join(stages)}"))
        if key not in DEFAULTS or key in ("seed", "out_dir", "init_from"):
            close = difflib.get_close_matches(key, DEFAULTS, n=1)
            raise SystemExit(f"error: {name(item)}: '{key}' is not a key the runner lets you set"
                             + (f"; did you mean '{close[0]}'?" if close and close[0] != key else
                                "; `python train.py --help` lists every key (seed: --seed(s); out_dir: --out)"))
        if stage is None and key.startswith("grpo_"):
            raise SystemExit(f"error: {name(item)}: a GRPO key sets one stage; name it, e.g. --set "
                             f"retro_stage2_grpo.{key}={value}")
        sets.setdefault(stage, []).append(f"--{key}={value}")
    return sets


def check_stage(stage, config, args):
    """The stage's config with these overrides; UserError (one line) for an unknown key, a bad value, or a trainable /
    frozen regex that matches no parameter of the model (built on the meta device), so that a run can refuse it
    before anything trains."""
    import torch

    from model import GPT
    from pbb.config import model_config
    from pbb.training import apply_trainable
    try:
        cfg = load_config([config, *args])[0]
        with torch.device("meta"):
            apply_trainable(GPT(model_config(cfg)), cfg["trainable"], cfg["frozen"])
    except UserError as e:
        raise UserError(f"stage {stage}: {e}")
    return cfg


def stage_overrides(sets, stage):
    """The train.py overrides parse_sets gives one stage: every-stage ones first, then the stage's own."""
    plain = sets.get(None, [])
    if stage == "pretrain":
        plain = [a for a in plain if a[2:].split("=", 1)[0] in (*ARCH_KEYS, "corpus", "corpus_seed", "data_dir")]
    return [*plain, *sets.get(stage, [])]


def pairs_of(out_a, stage_a, out_b, stage_b, seeds):
    """{seed: (eval_items.json of out_a/seedN/stage_a, of out_b/seedN/stage_b)}: the input of paired_rows."""
    def items(out, stage, s):
        with open(os.path.join(out, f"seed{s}", stage, "eval_items.json")) as f:
            return json.load(f)
    return {s: (items(out_a, stage_a, s), items(out_b, stage_b, s)) for s in seeds}


def missing_evals(out, n_seeds, stages=None):
    """The seedN/STAGE of a results directory that lack the eval_items.json a pairing needs (stages: the evaluated
    ones, by default the curricula's and pretrain)."""
    stages = stages or dict(CURRICULA, pretrain="pretrain").values()
    return [f"seed{s}/{st}" for s in range(n_seeds) for st in stages
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
    """Runs an experiment's main(); a refusal (SystemExit with an "error: ..." string, or a UserError) is one line on
    stderr, exit 2; Ctrl-C or SIGTERM stops the running stages (each checkpoints) and says so in one line, exit 130."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        sys.exit(main())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(2)
        raise
    except KeyboardInterrupt:
        print("stopped: the running stages checkpointed; rerun the same command to go on (finished stages and "
              "evaluations are reused)", file=sys.stderr)
        sys.exit(130)


# ----------------------------------------------------------------------------- the base model's checks

# Every domain's checks of a pretrained model, from its evaluation (curriculum "pretrain"): (split, mode, metric,
# threshold). A seed whose base model is below one of them is flagged in the runner's table and summary.
BASE_CHECKS = {"programs": [("S_eval", "incontext", "accuracy", 0.9), ("pretrain_recall_val", "cot", "accuracy", 0.5)],
               "grammars": [("S_eval", "incontext_cot", "validity", 0.5),
                            ("pretrain_recall_val", "cot", "validity", 0.2)]}
# The grammar pretraining's gate: in-context CoT validity on the held-out pretraining grammars (split pretrain_val,
# never trained on: not S_eval) of at least GATE_THRESHOLD, else configs/pretrain_more.py from the last checkpoint,
# at most GATE_CAP times. The rule looks at the model, never at the seed.
GATE_THRESHOLD, GATE_CAP, GATE_SAMPLES = 0.5, 2, 3


def base_checks(rows, seed):
    """Rows (metric "base_check": value, threshold, passed) of one seed's pretrained model against BASE_CHECKS."""
    out = []
    for domain, checks in BASE_CHECKS.items():
        for split, mode, metric, threshold in checks:
            mine = [r for r in rows if (r["curriculum"], r["domain"], r["mode"], r["metric"]) ==
                    ("pretrain", domain, mode, metric) and r["seed"] == seed]
            got = [r for r in mine if r["split"] == split]
            if mode == "incontext" and any(r["split"] == f"{split}/compose" for r in mine):
                # a composition's in-context prompt holds its own source, not its callees': the plain families only
                got = [r for r in mine if r["split"] in (f"{split}/arith", f"{split}/cipher")]
            out += [{**r, "metric": "base_check", "checked": metric, "threshold": threshold,
                     "passed": r["value"] >= threshold} for r in got]
    return out


def gate_validity(ckpt):
    """In-context CoT validity of a grammar checkpoint on the gate's prompts (written to gate.json beside it)."""
    d = os.path.dirname(ckpt)
    out = os.path.join(d, "gate.json")
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(ckpt)):
        argv = [sys.executable, EVAL, f"--ckpt={ckpt}", "--splits=pretrain_val", "--modes=incontext_cot",
                "--domains=grammars", f"--samples={GATE_SAMPLES}", f"--out={out}", f"--threads={STAGE_THREADS}",
                "--no_progress", "--quiet"]
        run_child(argv, os.path.join(d, "gate.log"), f"the gate's evaluation of {ckpt}",
                  "a grammar corpus built before the gate's prompts existed lacks them: delete it to rebuild it "
                  "(checkpoints stay valid)")
    with open(out) as f:
        return next(r["value"] for r in json.load(f) if r["metric"] == "validity")


def gate_job(name, root, seed, extra=(), reuse_root=None):
    """A Job that applies the grammar pretraining's gate to root/pretrain: evaluates it, trains root/pretrain_more{k}
    while it fails (at most GATE_CAP), and links root/base to the pretraining the curricula start from. It runs in the
    scheduler's own loop: the other jobs wait for it. reuse_root: another run's seed directory whose identical
    pretrain_more stages are linked (--from)."""
    def launch():
        here = os.path.join(root, "pretrain")
        for k in range(GATE_CAP + 1):
            v = gate_validity(os.path.join(here, "ckpt.pt"))
            passed = v >= GATE_THRESHOLD
            print(f"[pbb] gate: {here} in-context CoT validity on held-out grammars {v:.3f} "
                  f"({'passes' if passed else 'below'} {GATE_THRESHOLD})", flush=True)
            if passed or k == GATE_CAP:
                break
            nxt = os.path.join(root, f"pretrain_more{k + 1}")
            if reuse_root and not os.path.lexists(nxt):
                there = os.path.join(reuse_root, f"pretrain_more{k + 1}")
                link_same("configs/pretrain_more.py", nxt, here, seed, extra, there,
                          os.path.join(reuse_root, os.path.basename(here)))
            run_stage("configs/pretrain_more.py", nxt, here, seed, extra)
            here = nxt
        link = os.path.join(root, "base")
        if os.path.realpath(link) != os.path.realpath(here):
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(os.path.basename(here), link)
        return None, None, lambda: None
    return Job(name, [os.path.join(root, "pretrain")], launch)


def gate_rows(root, seed):
    """The gate's measurements of a seed's pretraining chain (root/pretrain, root/pretrain_more1, ...): rows of metric
    gate_validity, stage naming the checkpoint."""
    out = []
    for stage in ["pretrain"] + [f"pretrain_more{k}" for k in range(1, GATE_CAP + 1)]:
        f = os.path.join(root, stage, "gate.json")
        if os.path.exists(f):
            with open(f) as fh:
                r = next(r for r in json.load(fh) if r["metric"] == "validity")
            out.append({**r, "curriculum": "pretrain", "metric": "gate_validity", "stage": stage, "seed": seed,
                        "threshold": GATE_THRESHOLD})
    return out
