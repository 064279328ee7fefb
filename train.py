"""Train a GPT. Every stage of every curriculum is one run of this file.

    python train.py configs/smoke.py [--key=value ...]
    torchrun --standalone --nproc_per_node=2 train.py configs/smoke.py     # DDP

A config file is plain Python: module-level names override DEFAULTS below; `--key=value` overrides
both. The run's out_dir gets config.json, metrics.jsonl (one JSON object per logged step) and ckpt.pt.
stage='sft' trains on the next-token loss (train), stage='grpo' by RL (train_grpo, with grpo.py's objective).
"""
import ast
import contextlib
import copy
import dataclasses
import difflib
import json
import math
import os
import re
import runpy
import signal
import sys
import time
import types

import numpy as np
import torch

import grpo
from data.build import corpus_config, load_grammars
from data.format import CorpusError, Docs, open_corpus
from data.templates import COT_CUE
from data.tokenizer import encode_prompt, load as load_tokenizer
from model import GPT, GPTConfig

MODEL_KEYS = [f.name for f in dataclasses.fields(GPTConfig)]
# Fields that fix the shapes and meaning of the weights: a checkpoint and the run using it must agree.
ARCH_KEYS = ["vocab_size", "n_layer", "n_head", "n_embd", "bias", "pos_emb", "norm", "mlp", "qk_norm",
             "tie_embeddings", "rope_base", "tied_layers"]
DEFAULTS = dict(
    # run
    out_dir="out/run", init_from="scratch", overwrite=False, seed=1337, device="auto", dtype="auto",
    # compile stays off by default (CPU runs and the tests are eager); gpu_check.sh measures eager and compiled
    compile=False,
    # head_all_positions: the LM head at every position, the loss weighted after it, instead of model.py's head
    # at the non-zero-weight positions only (whose boolean index is a host sync on CUDA); gpu_check.sh times both
    head_all_positions=False,
    # data: a corpus config (built on first use) or an explicit corpus directory, and mixture names
    corpus="configs/corpus_tiny.py", corpus_seed=0, data_dir="", train_data=["pretrain"], val_data=[],
    # train_weights: [] = every document of train_data once per epoch (shares proportional to mixture sizes); else
    # one number per train_data mixture, its share of the documents drawn (e.g. the sweep's mixing_ratio)
    train_weights=[],
    # optimisation
    batch_size=32, grad_accum=1, max_iters=1000, learning_rate=1e-3, min_lr=1e-4, warmup_iters=50,
    lr_decay_iters=0, weight_decay=0.1, beta1=0.9, beta2=0.95, grad_clip=1.0, trainable="",
    # logging and checkpoints
    log_interval=1, eval_interval=100, eval_iters=10, ckpt_interval=500, progress=True,
    # stage: 'sft' (next-token loss on train_data) | 'grpo' (RL on S_train exec prompts: grpo.py)
    stage="sft", grpo_group_size=8, grpo_prompts_per_step=8, grpo_clip=0.2, grpo_kl=0.0, grpo_temperature=1.0,
    grpo_max_new_tokens=32, grpo_updates=1, grpo_domains=["programs", "grammars"], grpo_mode="implicit",
    # the model: every GPTConfig field under its own name
    **{f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
       for f in dataclasses.fields(GPTConfig)},
)
DEFAULTS["vocab_size"] = 0  # 0: the corpus tokenizer's vocabulary size
CHOICES = dict(device=("auto", "cpu", "cuda"), dtype=("auto", "float32", "bfloat16"), stage=("sft", "grpo"),
               grpo_mode=("implicit", "cot"))
# Dense bf16 peak FLOP/s of cards we may meet, for MFU; an unknown card gets no MFU.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
              "4090": 165e12, "3090": 71e12}


def peak_flops(device_type):
    """PEAK_FLOPS of the visible GPU, or None (CPU, or a card not listed)."""
    if device_type != "cuda":
        return None
    return next((v for k, v in PEAK_FLOPS.items() if k in torch.cuda.get_device_name()), None)


class UserError(Exception):
    """Something the user can fix. Printed as one line, without a traceback."""


# ----------------------------------------------------------------------------- config

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
        raise UserError(f"--{key}={text}: expected a {type(default).__name__}")


def check_type(key, value, where):
    default = DEFAULTS[key]
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list) and isinstance(value, tuple):
        value = list(value)
    if type(value) is not type(default):
        raise UserError(f"{key}={value!r} ({where}) should be a {type(default).__name__}, not a {type(value).__name__}")
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
            hint = f"; did you mean {' or '.join(close)}?" if close else "; see DEFAULTS in train.py"
            raise UserError(f"unknown config key '{key}' ({where}){hint}")
        if where == "command line":
            value = parse_value(key, value)
        config[key] = check_type(key, value, where)
        explicit.add(key)
    for key in ("batch_size", "grad_accum", "log_interval", "eval_iters", "block_size", "n_layer", "n_head", "n_embd"):
        if config[key] < 1:
            raise UserError(f"{key}={config[key]} must be at least 1")
    w = config["train_weights"]
    if w and (len(w) != len(config["train_data"]) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf for v in w) or sum(w) <= 0):
        raise UserError(f"train_weights={w!r} needs one number >= 0 per train_data mixture ({len(config['train_data'])}), "
                        "not all zero; or [] for shares proportional to mixture sizes")
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


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path, obj):
    """Atomic: a crash or a full disk leaves the previous checkpoint as it was."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path):
    if not os.path.isfile(path):
        raise UserError(f"no checkpoint at {path}; check the path, or train that stage first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} is not a readable checkpoint (truncated, corrupt or unsafe: {reason}); "
                        "delete it or point at another one")
    if not isinstance(ckpt, dict) or not {"model", "config", "step"} <= set(ckpt):
        raise UserError(f"{path} is not a checkpoint of this project (no model/config/step); point at another one")
    # a checkpoint saved before a GPTConfig field existed (e.g. tied_layers) was built with its default
    ckpt["config"] = {**{k: DEFAULTS[k] for k in MODEL_KEYS if k != "vocab_size"}, **ckpt["config"]}
    if ckpt.get("corpus_config") is not None:  # the same for corpus config keys added since it was saved
        ckpt["corpus_config"] = corpus_config({"config": ckpt["corpus_config"]})
    return ckpt


def producing_config(ckpt_path):
    """The config in configs/ whose run writes ckpt_path (for the message when it is missing), or None."""
    configs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
    for name in sorted(os.listdir(configs)):
        try:
            out_dir = runpy.run_path(os.path.join(configs, name)).get("out_dir") if name.endswith(".py") else None
        except Exception:
            continue
        if out_dir and os.path.abspath(os.path.join(out_dir, "ckpt.pt")) == os.path.abspath(ckpt_path):
            return os.path.join("configs", name)
    return None


def check_start(init_from):
    """A stage whose start checkpoint is missing names the config that writes it."""
    if init_from not in ("scratch", "resume") and not os.path.exists(init_from):
        maker = producing_config(init_from)
        if maker:
            raise UserError(f"this stage starts from {init_from}, which does not exist yet; "
                            f"run `python train.py {maker}` first")


def resolve_device(device):
    """'auto' -> cuda when a GPU is visible, else cpu; 'cuda' without a GPU is a user error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device=cuda but no CUDA GPU is visible; use --device=cpu")
    return device


def precision(device_type, dtype):
    """(dtype name, autocast context): 'auto' is bf16 autocast on a CUDA GPU that has it, else fp32."""
    if dtype == "auto":
        dtype = "bfloat16" if device_type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    return dtype, (torch.autocast(device_type, dtype=torch.bfloat16) if dtype == "bfloat16"
                   else contextlib.nullcontext())


def adopt_checkpoint(config, explicit, ckpt, data_dir, manifest):
    """Checks that a run may start from ckpt (same tokenizer, no conflicting architecture override)
    and copies the checkpoint's architecture into config."""
    if ckpt.get("tokenizer_id") != tokenizer_id(manifest):
        raise UserError(f"vocabulary mismatch: the checkpoint's tokenizer is not the one of corpus {data_dir}; "
                        "train with the corpus the checkpoint was trained on, or start from scratch")
    for key in ARCH_KEYS + (["block_size"] if ckpt["config"]["pos_emb"] == "learned" else []):
        if key in explicit and config[key] != ckpt["config"][key]:
            raise UserError(f"{key}={config[key]!r} but the checkpoint has {key}={ckpt['config'][key]!r}; "
                            "drop the override or start from scratch")
        config[key] = ckpt["config"][key]


def start_metrics(path, resumed_from):
    """Starts metrics.jsonl afresh, or on resume keeps only the records of steps already checkpointed
    (a run interrupted after its last checkpoint logged steps that will run again)."""
    old = [l for l in open(path) if json.loads(l)["step"] < resumed_from] if resumed_from and os.path.exists(path) else []
    with open(path, "w") as f:
        f.writelines(old)


def tokenizer_id(manifest):
    """The content hash of the corpus tokenizer: what makes token ids mean the same thing."""
    names = sorted(f for f in manifest["files"] if f.endswith(".tiktoken"))
    return manifest["files"][names[0]] if names else None


# ----------------------------------------------------------------------------- data

class Batches:
    """Packs whole documents into rows of block_size + 1 tokens, walking them in a seeded order that
    is a new permutation every epoch (without replacement). A document never spans two rows; one
    longer than a row is cut. The rest of a row is padding, a document of its own with zero weight.
    With `weights` (one per mixture, train.py's train_weights) each next document comes from mixture j with
    probability weights[j] / sum(weights), and each mixture is walked in its own seeded permutation per epoch
    of it; without, every document of every mixture once per epoch (shares proportional to sizes).
    `seen[j]`: documents of mixture j put in rows so far."""

    CHUNK = 4096  # mixture draws made at once (weighted): draw k is a function of the seed and k only

    def __init__(self, mixtures, block_size, seed, weights=None):
        self.mixtures, self.row_len, self.seed = mixtures, block_size + 1, seed
        sizes = [len(m) for m in mixtures]
        self.p = None if not weights else np.asarray(weights, np.float64) / sum(weights)
        self.which = np.repeat(np.arange(len(mixtures)), sizes)
        self.local = np.concatenate([np.arange(n) for n in sizes])
        self.seen = [0] * len(mixtures)
        self._chunk = (None, None)  # (chunk number, its mixture draws), weighted only
        self.epoch, self.cursor = 0, 0
        self.order = self._order(0)
        if self.p is not None:
            self.drawn, self.epochs, self.cursors = 0, [0] * len(mixtures), [0] * len(mixtures)
            self.orders = [self._order(0, j) for j in range(len(mixtures))]

    def _order(self, epoch, j=None):
        if j is None:
            return np.random.default_rng([self.seed, epoch]).permutation(len(self.which))
        return np.random.default_rng([self.seed, 1 + j, epoch]).permutation(len(self.mixtures[j]))

    def state(self):
        if self.p is None:
            return {"epoch": self.epoch, "cursor": self.cursor, "seen": list(self.seen)}
        return {"drawn": self.drawn, "epochs": list(self.epochs), "cursors": list(self.cursors), "seen": list(self.seen)}

    def load_state(self, state):
        self.seen = [int(n) for n in state.get("seen", self.seen)]
        if self.p is None:
            if "epoch" not in state:
                raise ValueError("the checkpoint's data stream was weighted (train_weights); resume it with them")
            self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
            self.order = self._order(self.epoch)
            return
        if "drawn" not in state or len(state["cursors"]) != len(self.mixtures):
            raise ValueError("the checkpoint's data stream had other train_data/train_weights; resume it with those")
        self.drawn, self.epochs, self.cursors = int(state["drawn"]), [int(e) for e in state["epochs"]], [int(c) for c in state["cursors"]]
        self.orders = [self._order(e, j) for j, e in enumerate(self.epochs)]

    def _draw(self):
        """The mixture of weighted draw number self.drawn (not consumed)."""
        chunk, k = divmod(self.drawn, self.CHUNK)
        if self._chunk[0] != chunk:
            rng = np.random.default_rng([self.seed, 0, chunk])
            self._chunk = (chunk, rng.choice(len(self.mixtures), size=self.CHUNK, p=self.p))
        return int(self._chunk[1][k])

    def _next_doc(self, used):
        """(mixture, index) of the next document; None when an epoch ends in a non-empty row (unweighted)."""
        if self.p is not None:
            j = self._draw()
            if self.cursors[j] == len(self.orders[j]):
                self.epochs[j], self.cursors[j] = self.epochs[j] + 1, 0
                self.orders[j] = self._order(self.epochs[j], j)
            return j, self.orders[j][self.cursors[j]]
        if self.cursor == len(self.order):
            if used:
                return None  # an epoch's last row is not topped up from the next epoch
            self.epoch, self.cursor = self.epoch + 1, 0
            self.order = self._order(self.epoch)
        d = self.order[self.cursor]
        return self.which[d], self.local[d]

    def _advance(self, j):
        if self.p is None:
            self.cursor += 1
        else:
            self.drawn, self.cursors[j] = self.drawn + 1, self.cursors[j] + 1
        self.seen[j] += 1

    def row(self):
        tokens = np.zeros(self.row_len, np.int64)
        weights = np.zeros(self.row_len, np.float32)
        docs = np.full(self.row_len, -1, np.int64)
        used, n_docs = 0, 0
        while True:
            nxt = self._next_doc(used)
            if nxt is None:
                break
            j, i = nxt
            tok, w = self.mixtures[j][i]
            n = min(len(tok), self.row_len)
            if used + n > self.row_len:
                break
            tokens[used:used + n], weights[used:used + n], docs[used:used + n] = tok[:n], w[:n], n_docs
            used, n_docs = used + n, n_docs + 1
            self._advance(j)
        return tokens, weights, docs

    def take(self, n_rows):
        """(x, y, loss weights, doc ids) of n_rows rows; a target in another document gets weight 0."""
        tok, w, doc = (torch.from_numpy(np.stack(a)) for a in zip(*(self.row() for _ in range(n_rows))))
        same_doc = doc[:, 1:] == doc[:, :-1]
        return tok[:, :-1], tok[:, 1:], w[:, 1:] * same_doc, doc[:, :-1]


def open_data(config):
    """Returns (corpus dir, manifest), building the corpus from its config when it does not exist."""
    data_dir = config["data_dir"]
    if data_dir and os.path.isdir(data_dir):
        return data_dir, open_corpus(data_dir)
    if not config["corpus"]:
        raise UserError(f"data_dir {data_dir!r} does not exist and no corpus config is set to build it")
    from data.build import ensure_corpus
    try:
        data_dir = ensure_corpus(config["corpus"], data_dir or None, config["corpus_seed"])
    except (ValueError, OSError) as e:
        raise UserError(f"cannot build corpus from {config['corpus']}: {e}")
    return data_dir, open_corpus(data_dir)


def load_mixtures(data_dir, names, manifest):
    for name in names:
        if not os.path.isfile(os.path.join(data_dir, f"{name}.tokens.npy")):
            have = sorted(f[:-len(".tokens.npy")] for f in manifest["files"] if f.endswith(".tokens.npy"))
            raise UserError(f"mixture '{name}' is not in corpus {data_dir}; it has: {', '.join(have)}")
    mixtures = [Docs(data_dir, name) for name in names]
    if not sum(len(m) for m in mixtures):
        raise UserError(f"mixtures {', '.join(names)} of corpus {data_dir} hold no documents")
    return mixtures


# ----------------------------------------------------------------------------- training

def get_lr(config, step):
    """Linear warmup, then cosine decay to min_lr at lr_decay_iters (default: max_iters)."""
    lr, warmup = config["learning_rate"], config["warmup_iters"]
    decay_iters = config["lr_decay_iters"] or config["max_iters"]
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, decay_iters - warmup))
    return config["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - config["min_lr"])


def make_optimizer(model, config):
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config["weight_decay"]},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config["learning_rate"], betas=(config["beta1"], config["beta2"]),
                             fused=True)  # one fused kernel on CPU and CUDA alike


def apply_trainable(model, pattern):
    """Freezes every parameter whose name does not match the regex `pattern` ('' trains everything)."""
    if not pattern:
        return
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise UserError(f"trainable={pattern!r} is not a valid regex: {e}")
    names = [n for n, p in model.named_parameters() if regex.search(n)]
    if not names:
        some = ", ".join(n for n, _ in list(model.named_parameters())[:6])
        raise UserError(f"trainable={pattern!r} matches no parameter; names look like: {some}")
    for n, p in model.named_parameters():
        p.requires_grad_(bool(regex.search(n)))


@torch.no_grad()
def evaluate(model, batches, autocast):
    """Token-weighted mean loss over the fixed held-out batches."""
    model.eval()
    total, weight = 0.0, 0.0
    for x, y, w, doc in batches:
        with autocast:
            _, loss = model(x, y, doc_ids=doc, reduction="none")
        total += (loss * w).sum().item()
        weight += w.sum().item()
    model.train()
    return total / max(weight, 1e-8)


def start_processes(config):
    """(ddp, rank, world, device). Under torchrun, joins the process group. Refuses an attention backend
    that cannot train on the device."""
    ddp = "RANK" in os.environ
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if ddp else (0, 1)
    device = resolve_device(config["device"])
    if ddp:
        if device == "cuda":
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    cpu = not device.startswith("cuda")
    if config["attn_backend"] == "triton" and cpu and os.environ.get("TRITON_INTERPRET") != "1":
        raise UserError("attn_backend='triton' needs a CUDA GPU (or TRITON_INTERPRET=1, slow); "
                        "use --attn_backend=sdpa on CPU")
    if config["attn_backend"] == "flex" and cpu:
        raise UserError("attn_backend='flex' trains on a CUDA GPU only (FlexAttention has no backward on CPU); "
                        "use --attn_backend=sdpa on CPU (eval.py and generation accept flex on CPU)")
    return ddp, rank, world, device


def refuse_overwrite(config, ckpt_path):
    if config["init_from"] != "resume" and os.path.exists(ckpt_path) and not config["overwrite"]:
        raise UserError(f"{config['out_dir']} already holds a checkpoint; continue it with --init_from=resume, "
                        "choose another out_dir, or pass --overwrite=true")


def open_start(config, explicit, ckpt_path):
    """(corpus dir, manifest, the checkpoint to start from or None); config takes the checkpoint's
    architecture and the corpus's vocabulary size."""
    data_dir, manifest = open_data(config)
    ckpt = None
    check_start(config["init_from"])
    if config["init_from"] != "scratch":
        ckpt = load_checkpoint(ckpt_path if config["init_from"] == "resume" else config["init_from"])
        adopt_checkpoint(config, explicit, ckpt, data_dir, manifest)
    if config["vocab_size"] == 0:
        config["vocab_size"] = int(manifest["vocab_size"])
    if config["vocab_size"] != int(manifest["vocab_size"]):
        raise UserError(f"vocabulary mismatch: vocab_size={config['vocab_size']} but corpus {data_dir} has "
                        f"{manifest['vocab_size']} tokens; drop the vocab_size override")
    return data_dir, manifest, ckpt


def open_batches(config, data_dir, manifest, device):
    """The training stream, and the fixed held-out batches (on device) of val_data, if any."""
    mixtures, weights = load_mixtures(data_dir, config["train_data"], manifest), config["train_weights"]
    empty = [n for n, m, w in zip(config["train_data"], mixtures, weights) if w > 0 and not len(m)]
    if empty:
        raise UserError(f"train_weights gives mixture(s) {', '.join(empty)} a share, but they hold no documents")
    stream = Batches(mixtures, config["block_size"], config["seed"], weights)
    if not config["val_data"]:
        return stream, []
    val = Batches(load_mixtures(data_dir, config["val_data"], manifest), config["block_size"], config["seed"])
    return stream, [tuple(t.to(device) for t in val.take(config["batch_size"])) for _ in range(config["eval_iters"])]


def build_model(config, ckpt, device):
    """The model (seeded, or with the checkpoint's weights) on device, and its optimizer."""
    torch.manual_seed(config["seed"])
    model = GPT(model_config(config))
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
    apply_trainable(model, config["trainable"])
    model.to(device)
    return model, make_optimizer(model, config)


def resume(ckpt, optimizer, device_type):
    """Restores the optimizer and the RNG of a checkpoint to resume from; returns its step."""
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"]["cpu"])
    if device_type == "cuda" and ckpt["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(ckpt["rng"]["cuda"])
    return ckpt["step"]


def wrap(model, config, ddp, device):
    """The model the steps run: compiled (compile) and under DDP (several processes). The unwrapped model keeps
    the weights that checkpoints and evaluation use."""
    if config["compile"]:
        model = torch.compile(model)
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.startswith("cuda") else None,
                                                          find_unused_parameters=bool(config["ablate_mlps"]))
    return model


def announce(config, model, data_dir, where, start_step):
    """Two lines at the start of a run: the keys set away from their defaults, and model, corpus, device, steps."""
    changed = ", ".join(f"{k}={v!r}" for k, v in config.items() if v != DEFAULTS[k])
    print(f"config ({os.path.join(config['out_dir'], 'config.json')} has every key): {changed}")
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{model.num_params() / 1e6:.2f}M parameters ({n_train / 1e6:.2f}M trainable); corpus {data_dir}; "
          f"{where}; steps {start_step} -> {config['max_iters']}")


def start_out_dir(config, resumed_from):
    """Writes out_dir/config.json and starts metrics.jsonl (start_metrics); returns the path of metrics.jsonl."""
    os.makedirs(config["out_dir"], exist_ok=True)
    with open(os.path.join(config["out_dir"], "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    path = os.path.join(config["out_dir"], "metrics.jsonl")
    start_metrics(path, resumed_from)
    return path


def append_record(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def catch_signals():
    """SIGINT and SIGTERM set stop["signal"] instead of stopping the process (main() puts the previous
    handlers back): the loop stops after its step, with a checkpoint."""
    stop = {"signal": 0}
    def on_signal(signum, frame):
        stop["signal"] = signum
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def train_step(model, x, y, w, doc, config, rank, world, ddp, autocast):
    """Forward and backward of one optimizer step's B * accum * world rows (gradients accumulate); returns
    the loss of this process's rows. Micro-step m of rank r takes chunk m * world + r, so any split of the
    same rows over processes and micro-steps computes the same update."""
    B, accum = config["batch_size"], config["grad_accum"]
    loss_sum = torch.zeros((), device=x.device)
    for m in range(accum):
        rows = slice((m * world + rank) * B, (m * world + rank + 1) * B)
        sync = contextlib.nullcontext() if not ddp or m == accum - 1 else model.no_sync()
        with sync, autocast:
            _, loss = model(x[rows], y[rows], loss_weights=w[rows], doc_ids=doc[rows], head_all=config["head_all_positions"])
            loss = loss / accum
        loss.backward()
        loss_sum += loss.detach()
    return loss_sum


def probe_loss(model, batch, batch_size, autocast):
    """The model's loss on the first batch_size rows of `batch` (the next step's rows: the rows the stream
    gives first after the checkpointed state)."""
    x, y, w, doc = (t[:batch_size] for t in batch)
    model.eval()
    with torch.no_grad(), autocast:
        loss = model(x, y, loss_weights=w, doc_ids=doc)[1].item()
    model.train()
    return loss


def fetch(stream, n_rows, device):
    """(the stream's state before them, the next n_rows rows on device). On CUDA the rows are copied from
    pinned memory without waiting: the host builds the next batch while the GPU runs the current step."""
    state = stream.state()
    rows = stream.take(n_rows)
    if device.startswith("cuda"):
        return state, [t.contiguous().pin_memory().to(device, non_blocking=True) for t in rows]
    return state, [t.to(device) for t in rows]


def read_losses(pending, ddp, world):
    """The losses of the steps since the last read, as floats averaged over ranks: one host sync for all."""
    losses = torch.stack(pending)
    if ddp:
        torch.distributed.all_reduce(losses)
        losses /= world
    return losses.tolist()


def fill_record(record, loss, lr, grad_norm, tokens_per_s, flops_per_token, peak, world):
    """A logged step's metrics.jsonl record: loss, lr, throughput, wall time, gradient norm and (where the
    device's peak is known) model FLOPs utilisation."""
    record.update(loss=loss, lr=lr, tokens_per_s=round(tokens_per_s, 1), time=round(time.time(), 3))
    if grad_norm is not None:
        record["grad_norm"] = grad_norm.item()
    if peak:
        record["mfu"] = round(flops_per_token * tokens_per_s / (peak * world), 4)


def resume_command(argv):
    """The command that continues a stopped run: its own arguments with --init_from=resume."""
    args = [a for a in argv or ["CONFIG"] if not a.startswith(("--init_from=", "--progress="))]
    return " ".join(["python train.py", *args, "--init_from=resume"])


def train(config, explicit, argv=None):
    ddp, rank, world, device = start_processes(config)
    master, device_type = rank == 0, "cuda" if device.startswith("cuda") else "cpu"
    dtype, autocast = precision(device_type, config["dtype"])
    out_dir = config["out_dir"]
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    refuse_overwrite(config, ckpt_path)
    data_dir, manifest, ckpt = open_start(config, explicit, ckpt_path)
    B, T, accum = config["batch_size"], config["block_size"], config["grad_accum"]
    train_stream, val_batches = open_batches(config, data_dir, manifest, device)
    model, optimizer = build_model(config, ckpt, device)
    start_step = 0
    if config["init_from"] == "resume":
        start_step = resume(ckpt, optimizer, device_type)
        try:
            train_stream.load_state(ckpt["data"])
        except ValueError as e:
            raise UserError(f"cannot resume {ckpt_path}: {e}")
    raw_model, model = model, wrap(model, config, ddp, device)
    if master:
        metrics_path = start_out_dir(config, start_step)
        announce(config, raw_model, data_dir, f"device {device}, {dtype}, {world} process(es)", start_step)

    def kept():
        return f"the last good checkpoint is kept in {ckpt_path}" if os.path.exists(ckpt_path) else "no checkpoint was written"

    def checkpoint(step):
        """Writes ckpt.pt only when the model it would hold gives a finite loss on the next training batch:
        a kept checkpoint is always a good one."""
        probe = probe_loss(raw_model, batch, B, autocast)
        if not math.isfinite(probe):
            raise UserError(f"loss became {probe} after step {step} (checked before saving it); {kept()}; "
                            "lower learning_rate or check the data")
        if master:
            save_checkpoint(ckpt_path, {
                "model": raw_model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "config": config, "tokenizer_id": tokenizer_id(manifest), "corpus_config": corpus_config(manifest),
                "data": state,
                "rng": {"cpu": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state() if device_type == "cuda" else None}})

    stop = catch_signals()
    peak = peak_flops(device_type)
    flops_per_token = raw_model.flops_per_token(T)
    from tqdm import tqdm
    bar = tqdm(total=config["max_iters"], initial=start_step, disable=not (master and config["progress"]),
               dynamic_ncols=True)
    step, loss_value = start_step, None
    # Losses and gradient norms stay on the device (`pending`) and are read, in one host sync, only at the steps
    # that log, evaluate, checkpoint or stop; tokens/s is over the steps since. (On CUDA the head's row selection,
    # x[loss_weights != 0] in model.py, still syncs once per micro-step; head_all_positions=True avoids it.)
    state, batch = fetch(train_stream, B * accum * world, device)  # the next step's rows and the state before them
    pending, t_read = [], time.time()
    while step < config["max_iters"]:
        lr = get_lr(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        record = {"step": step}
        if val_batches and config["eval_interval"] and step % config["eval_interval"] == 0:
            if device_type == "cuda":
                torch.cuda.synchronize()  # the queued training steps count as training time, not evaluation
            t_eval = time.time()
            record["val_loss"] = evaluate(raw_model, val_batches, autocast)
            t_read += time.time() - t_eval  # not counted in tokens/s
        pending.append(train_step(model, *batch, config, rank, world, ddp, autocast))
        grad_norm = None
        if config["grad_clip"] > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(raw_model.parameters(), config["grad_clip"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state, batch = fetch(train_stream, B * accum * world, device)  # built while the device runs this step
        step += 1

        # logging and checkpoints
        stopping = stop["signal"] != 0
        if ddp:  # every rank stops at the same step (a host sync every step, under DDP only)
            flag = torch.tensor(float(stopping), device=device)
            torch.distributed.all_reduce(flag)
            stopping = flag.item() > 0
        logging = step % config["log_interval"] == 0 or "val_loss" in record
        saving = config["ckpt_interval"] and step % config["ckpt_interval"] == 0 and step < config["max_iters"]
        if logging or saving or stopping or step == config["max_iters"]:
            losses = read_losses(pending, ddp, world)
            for i, v in enumerate(losses):
                if not math.isfinite(v):
                    raise UserError(f"loss became {v} at step {step - len(losses) + i}; {kept()}; "
                                    "lower learning_rate or check the data")
            loss_value = losses[-1]
            fill_record(record, loss_value, lr, grad_norm, B * T * accum * world * len(losses) / (time.time() - t_read),
                        flops_per_token, peak, world)
            if master and logging:
                append_record(metrics_path, record)
            bar.set_postfix({k: f"{record[k]:.4g}" for k in ("loss", "val_loss", "lr", "tokens_per_s", "mfu") if k in record})
            pending = []
        bar.update(1)
        if stopping:
            checkpoint(step)
            bar.close()
            if master:
                print(f"stopped by signal at step {step}; checkpoint saved to {ckpt_path}; "
                      f"continue with: {resume_command(argv)}", file=sys.stderr)
            return 128 + int(stop["signal"]) if stop["signal"] else 130
        if saving:
            checkpoint(step)
        if not pending:
            t_read = time.time()
    bar.close()
    if master:
        final = {"step": step, "loss": loss_value, "docs_seen": dict(zip(config["train_data"], state["seen"]))}
        if val_batches:
            final["val_loss"] = evaluate(raw_model, val_batches, autocast)
            print(f"final val_loss {final['val_loss']:.4f}")
        append_record(metrics_path, final)
    checkpoint(step)
    if master:
        print(f"done: {step} steps; checkpoint {ckpt_path}")
    return 0


def train_grpo(config, explicit=(), argv=None):
    """The GRPO stage (stage='grpo'; the method is in grpo.py): RL on the corpus's S_train exec prompts from a
    trained checkpoint. Writes config.json, metrics.jsonl and ckpt.pt in out_dir like train()."""
    device = resolve_device(config["device"])
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    dtype, autocast = precision(device_type, config["dtype"])
    out_dir = config["out_dir"]
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    if config["init_from"] == "scratch":
        raise UserError("GRPO starts from a trained model: set init_from to a checkpoint path (or 'resume')")
    refuse_overwrite(config, ckpt_path)
    check_start(config["init_from"])
    ckpt = load_checkpoint(ckpt_path if config["init_from"] == "resume" else config["init_from"])
    ref_path = ckpt["grpo_ref"] if config["init_from"] == "resume" else config["init_from"]  # where GRPO started
    if not {"data_dir", "corpus", "corpus_seed"} & set(explicit):  # by default, the checkpoint's corpus
        config.update({k: ckpt["config"][k] for k in ("data_dir", "corpus", "corpus_seed")})
    data_dir, manifest = open_data(config)
    adopt_checkpoint(config, explicit, ckpt, data_dir, manifest)
    enc = load_tokenizer(data_dir, manifest)
    grammars = load_grammars(data_dir)
    items = grpo.load_rl_items(data_dir, manifest, config["grpo_domains"])
    P, G = config["grpo_prompts_per_step"], config["grpo_group_size"]
    if P < 1 or G < 2:
        raise UserError("grpo_prompts_per_step must be >= 1 and grpo_group_size >= 2 (advantages compare a group)")

    model = GPT(model_config(config))
    model.load_state_dict(ckpt["model"])
    apply_trainable(model, config["trainable"])
    model.to(device)
    ref = None
    if config["grpo_kl"] > 0:
        ref_ckpt = ckpt if config["init_from"] != "resume" else load_checkpoint(ref_path)
        ref = copy.deepcopy(model)
        ref.load_state_dict(ref_ckpt["model"])
        ref.requires_grad_(False).eval()
    optimizer = make_optimizer(model, config)
    start = resume(ckpt, optimizer, device_type) if config["init_from"] == "resume" else 0
    metrics_path = start_out_dir(config, start)
    print(f"GRPO from {config['init_from']}: {len(items)} prompts, {P} x {G} completions per step; "
          f"device {device}, {dtype}; steps {start} -> {config['max_iters']}")

    def checkpoint(step):
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                    "step": step, "config": config, "tokenizer_id": ckpt["tokenizer_id"],
                                    "corpus_config": corpus_config(manifest),
                                    "data": {}, "grpo_ref": ref_path, "rng": {"cpu": torch.get_rng_state()}})

    stop = catch_signals()
    mode, cue = config["grpo_mode"], COT_CUE if config["grpo_mode"] == "cot" else ""
    eos, pad = manifest["eos"], manifest["pad"]
    from tqdm import tqdm
    bar = tqdm(total=config["max_iters"], initial=start, disable=not config["progress"], dynamic_ncols=True)
    for step in range(start, config["max_iters"]):
        t0 = time.time()
        lr = get_lr(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # Prompts and samples are functions of (seed, step): a resumed run continues identically.
        pick = np.random.default_rng([config["seed"], step]).choice(len(items), P, replace=P > len(items))
        batch = [items[i] for i in pick for _ in range(G)]
        prompts = [encode_prompt(enc, it["prompt"] + cue) for it in batch]
        n_new = min(config["grpo_max_new_tokens"], config["block_size"] + 1 - max(map(len, prompts)))
        if n_new < 1:
            raise UserError(f"RL prompts of {max(map(len, prompts))} tokens leave no room in block_size={config['block_size']}")
        generator = torch.Generator(device=device).manual_seed(config["seed"] * 1_000_003 + step)
        model.eval()
        completions = model.generate(prompts, n_new, temperature=config["grpo_temperature"], stop_token=eos,
                                     generator=generator)
        rewards = torch.tensor(grpo.rewards_of(batch, [enc.decode(c) for c in completions], grammars, mode)).view(P, G)
        adv = grpo.group_advantages(rewards).view(-1).to(device)
        tokens, mask = (t.to(device) for t in grpo.completion_batch(prompts, completions, n_new, eos, pad))
        with torch.no_grad(), autocast:
            logp_old = grpo.token_logprobs(model, tokens)
            logp_ref = grpo.token_logprobs(ref, tokens) if ref is not None else None
        model.train()
        for _ in range(config["grpo_updates"]):
            with autocast:
                loss, kl = grpo.grpo_loss(grpo.token_logprobs(model, tokens), logp_old, adv, mask, config["grpo_clip"],
                                          logp_ref, config["grpo_kl"])
            if not math.isfinite(loss.item()):  # before the update: the last checkpoint stays good
                raise UserError(f"GRPO loss became {loss.item()} at step {step}; lower learning_rate")
            loss.backward()
            if config["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        record = dict(step=step, reward=rewards.mean().item(), loss=loss.item(), kl=kl.item(), lr=lr,
                      completion_tokens=int(mask.sum().item()), time=round(time.time(), 3), dt=round(time.time() - t0, 3))
        if (step + 1) % config["log_interval"] == 0:
            append_record(metrics_path, record)
        bar.update(1)
        bar.set_postfix(reward=f"{record['reward']:.3f}", loss=f"{record['loss']:.4g}")
        if stop["signal"]:
            checkpoint(step + 1)
            bar.close()
            print(f"stopped by signal at step {step + 1}; checkpoint saved to {ckpt_path}; continue with: "
                  f"{resume_command(argv)}", file=sys.stderr)
            return 128 + stop["signal"]
        if config["ckpt_interval"] and (step + 1) % config["ckpt_interval"] == 0:
            checkpoint(step + 1)
    bar.close()
    checkpoint(config["max_iters"])
    print(f"done: {config['max_iters']} steps; checkpoint {ckpt_path}")
    return 0


def main(argv):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        config, explicit = load_config(argv)
        return (train_grpo if config["stage"] == "grpo" else train)(config, explicit, argv)
    except (UserError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
