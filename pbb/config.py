"""A run's configuration: every key with its default (DEFAULTS), the type checks, config files and --key=value
overrides (load_config), and the model's GPTConfig (model_config)."""
import ast
import dataclasses
import difflib
import math
import os
import runpy
import sys
import types

from model import GPTConfig
from pbb.common import UserError

MODEL_KEYS = [f.name for f in dataclasses.fields(GPTConfig)]


# Fields that fix the shapes and meaning of the weights: a checkpoint and the run using it must agree.
ARCH_KEYS = ["vocab_size", "n_layer", "n_head", "n_embd", "bias", "pos_emb", "norm", "mlp", "qk_norm",
             "tie_embeddings", "rope_base", "tied_layers"]


# Every key of a run, by section: (key, default, meaning). DEFAULTS and `python train.py --help` are read from here;
# a model key's default is GPTConfig's (model.py).
SECTIONS = [
    ("run", [
        ("out_dir", "out/run", "directory of config.json, metrics.jsonl and ckpt.pt"),
        ("init_from", "scratch", "'scratch', 'resume' (this out_dir's checkpoint), or a checkpoint path to start from"),
        ("overwrite", False, "replace a checkpoint already in out_dir (else refused)"),
        ("seed", 1337, "seeds the initial weights, the data order, dropout and GRPO's samples"),
        ("device", "auto", "'auto' (cuda when visible), 'cpu' or 'cuda'"),
        ("dtype", "auto", "'auto' (bf16 autocast on a GPU that has it, else fp32), 'float32' or 'bfloat16'"),
        ("threads", 0, "CPU threads of this process (torch.set_num_threads); 0: torch's default"),
        # compile stays off by default (CPU runs and the tests are eager); gpu_check.sh measures eager and compiled
        ("compile", False, "torch.compile the model"),
        # the head at the non-zero-weight positions only is a boolean index, a host sync on CUDA; gpu_check.sh times
        # both
        ("head_all_positions", False, "LM head at every position, the loss weighted after it (default: only where "
                                      "the loss weight is non-zero)"),
    ]),
    ("data", [
        ("corpus", "configs/corpus_tiny.py", "corpus config, built on first use (data/build.py)"),
        ("corpus_seed", 0, "the corpus's seed"),
        ("data_dir", "", "an explicit corpus directory (default: corpora/<config>-s<seed>)"),
        ("train_data", ["pretrain"], "mixtures of the corpus to train on, e.g. ['decl_S_eval', 'replay']"),
        ("val_data", [], "mixtures whose held-out loss is logged as val_loss"),
        ("train_weights", [], "[]: every document of train_data once per epoch (shares follow mixture sizes); else "
                              "one number per mixture, its share of the documents drawn"),
    ]),
    ("optimisation", [
        ("batch_size", 32, "rows per micro-step and process"),
        ("grad_accum", 1, "micro-steps per optimizer step"),
        ("max_iters", 1000, "optimizer steps"),
        ("learning_rate", 1e-3, "peak learning rate (after warmup_iters linear steps; cosine to min_lr)"),
        ("min_lr", 1e-4, "learning rate at the end of the cosine decay"),
        ("warmup_iters", 50, "linear warmup steps"),
        ("lr_decay_iters", 0, "the step where the cosine reaches min_lr; 0: max_iters"),
        ("weight_decay", 0.1, "AdamW weight decay of matrices (not of norms, biases)"),
        ("beta1", 0.9, "AdamW beta1"),
        ("beta2", 0.95, "AdamW beta2"),
        ("grad_clip", 1.0, "clip the gradient norm to this; 0: no clipping"),
        ("trainable", "", "a regex of parameter names to train, everything else frozen; '': all"),
        ("frozen", "", "a regex of parameter names to freeze, everything else trained (not with trainable)"),
    ]),
    ("logging and checkpoints", [
        ("log_interval", 1, "steps between metrics.jsonl records"),
        ("eval_interval", 100, "steps between val_loss evaluations; 0: none"),
        ("eval_iters", 10, "batches of val_data per evaluation"),
        ("ckpt_interval", 500, "steps between checkpoints (also at the end and on SIGINT/SIGTERM); 0: at the end"),
        ("progress", True, "a progress bar"),
        ("wandb", "", "a W&B project to log metrics.jsonl's records to, offline (WANDB_MODE) in out_dir/wandb; "
                      "'': off"),
    ]),
    ("stage", [
        ("stage", "sft", "'sft' (next-token loss on train_data, train.py) or 'grpo' (RL, pbb/grpo.py)"),
        ("grpo_group_size", 8, "completions sampled per prompt (advantages compare a group)"),
        ("grpo_prompts_per_step", 8, "S_train prompts per step"),
        ("grpo_clip", 0.2, "PPO-style clipping of the probability ratio"),
        ("grpo_kl", 0.0, "weight of the KL penalty to the starting model"),
        ("grpo_temperature", 1.0, "sampling temperature"),
        ("grpo_max_new_tokens", 32, "completion cap"),
        ("grpo_updates", 1, "optimizer steps per batch of completions"),
        ("grpo_domains", ["programs", "grammars"], "domains whose S_train prompts are used"),
        ("grpo_mode", "implicit", "'implicit' (answer directly) or 'cot' (the CoT cue; the answer after the trace "
                                  "is rewarded)"),
        ("grpo_reward", "answer", "'answer' (1 for an exact answer) or 'trace' (CoT on programs: half for the answer, "
                                  "half for a trace that restates the source, and a composition's callees' sources, "
                                  "exactly: eval.py's callee_recall)"),
    ]),
    ("model (GPTConfig, model.py)", [
        ("vocab_size", 0, "0: the corpus tokenizer's vocabulary size"),
        ("block_size", None, "the longest row, in tokens"),
        ("n_layer", None, "transformer blocks"),
        ("n_head", None, "attention heads"),
        ("n_embd", None, "width of the residual stream"),
        ("dropout", None, "on embeddings and residual branches"),
        ("bias", None, "biases in Linear layers and LayerNorm"),
        ("attn_backend", None, "'sdpa', 'triton' (kernels/), 'flex' (FlexAttention) or 'naive'"),
        ("pos_emb", None, "'rope', 'learned' or 'none'; positions restart at each packed document"),
        ("norm", None, "'layernorm' or 'rmsnorm'"),
        ("mlp", None, "'gelu', 'relu2' or 'swiglu'"),
        ("qk_norm", None, "RMSNorm on each head's queries and keys"),
        ("tie_embeddings", None, "the LM head shares the token embedding matrix"),
        ("rope_base", None, "RoPE's base"),
        ("ablate_heads", None, "[[layer, head], ...] whose outputs are zeroed"),
        ("ablate_mlps", None, "[layer, ...] whose MLP outputs are zeroed"),
        ("tied_layers", None, "one block applied n_layer times (weights shared across depth)"),
    ]),
]
_MODEL_DEFAULTS = {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
                   for f in dataclasses.fields(GPTConfig)}
DEFAULTS = {k: _MODEL_DEFAULTS[k] if d is None else d for _, keys in SECTIONS for k, d, _ in keys}


CHOICES = dict(device=("auto", "cpu", "cuda"), dtype=("auto", "float32", "bfloat16"), stage=("sft", "grpo"),
               grpo_mode=("implicit", "cot"), grpo_reward=("answer", "trace"))


TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


def describe():
    """`python train.py --help`: every key by section, with its default and meaning."""
    lines = ["usage: python train.py CONFIG.py [--key=value ...]", "",
             "A config file is plain Python: its module-level names set keys; --key=value overrides them. Keys:"]
    for section, keys in SECTIONS:
        lines += ["", f"{section}:"]
        lines += [f"  {k} = {DEFAULTS[k]!r}".ljust(40) + f"  {meaning}" for k, _, meaning in keys]
    return "\n".join(lines)


def parse_value(key, text):
    """A command-line value for `key`, read with the type of its default."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise UserError(f"--{key}={text}: expected true or false")
    if isinstance(default, list):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = [t for t in text.split(",") if t]  # --train_data=a,b
        return value if isinstance(value, list) else [value]
    if isinstance(default, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise UserError(f"--{key}={text}: expected {TYPE_NAMES[type(default)]}")


def check_type(key, value, where):
    default = DEFAULTS[key]
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list) and isinstance(value, tuple):
        value = list(value)
    if type(value) is not type(default):
        raise UserError(f"{key}={value!r} ({where}) should be {TYPE_NAMES[type(default)]}, not "
                        f"{TYPE_NAMES.get(type(value), 'a ' + type(value).__name__)}")
    return value


def load_config(argv):
    """Returns (config dict, set of keys the user set)."""
    if not argv or argv[0].startswith("-"):
        raise UserError("usage: python train.py CONFIG.py [--key=value ...]")
    path, overrides = argv[0], argv[1:]
    if not os.path.isfile(path):
        raise UserError(f"config file {path} not found")
    for name in [m for m in sys.modules if m == "configs" or m.startswith("configs.")]:
        del sys.modules[name]  # shared settings imported from configs/ are re-read on every load
    try:
        names = runpy.run_path(path)
    except Exception as e:
        raise UserError(f"config file {path} failed to run: {type(e).__name__}: {e}")
    given = [(k, v, path) for k, v in names.items() if not k.startswith("_")
             and not isinstance(v, (types.ModuleType, types.FunctionType, type))]
    for arg in overrides:
        if not arg.startswith("--") or "=" not in arg:
            raise UserError(f"cannot read argument {arg!r}: write overrides as --key=value")
        key, text = arg[2:].split("=", 1)
        given.append((key, text, "command line"))
    config, explicit = dict(DEFAULTS), set()
    for key, value, where in given:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else "; `python train.py --help` lists every key"
            raise UserError(f"unknown config key '{key}' ({where}){hint}")
        if where == "command line":
            value = parse_value(key, value)
        config[key] = check_type(key, value, where)
        explicit.add(key)
    rl_only = sorted(k for k in explicit if k.startswith("grpo_"))
    if rl_only and config["stage"] != "grpo":
        raise UserError(f"{', '.join(rl_only)} set for a stage with stage={config['stage']!r}, where GRPO keys have no "
                        "effect; set them on a GRPO stage (stage='grpo') or drop them")
    for key in ("batch_size", "grad_accum", "log_interval", "eval_iters", "block_size", "n_layer", "n_head", "n_embd"):
        if config[key] < 1:
            raise UserError(f"{key}={config[key]} must be at least 1")
    w = config["train_weights"]
    if w and (len(w) != len(config["train_data"]) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf for v in w) or sum(w) <= 0):
        raise UserError(f"train_weights={w!r} needs one number >= 0 per train_data mixture "
                        f"({len(config['train_data'])}), "
                        "not all zero; or [] for shares proportional to mixture sizes")
    if config["trainable"] and config["frozen"]:
        raise UserError(f"trainable={config['trainable']!r} and frozen={config['frozen']!r}: set one of the two "
                        "(trainable: what trains; frozen: what does not)")
    if config["max_iters"] < 0:
        raise UserError(f"max_iters={config['max_iters']} must be 0 or more")
    if config["threads"] < 0:
        raise UserError(f"threads={config['threads']} must be 0 (torch's default) or more")
    for key, allowed in CHOICES.items():
        if config[key] not in allowed:
            raise UserError(f"{key}={config[key]!r} is not one of {', '.join(allowed)}")
    try:
        model_config(config)
    except ValueError as e:
        raise UserError(str(e))
    return config, explicit


def model_config(config):
    return GPTConfig(**{k: config[k] if k != "vocab_size" or config[k] else 1 for k in MODEL_KEYS})
