"""The parts both training loops (train.py's next-token loop, pbb/grpo.py's RL loop) are made of: the model and its
optimizer, the learning-rate schedule, which parameters train, one optimizer step's forward and backward, the
held-out loss."""
import contextlib
import math
import re

import torch

from model import GPT
from pbb.common import UserError
from pbb.config import model_config


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


def apply_trainable(model, pattern, frozen=""):
    """Freezes every parameter whose name does not match the regex `pattern`, or (`frozen`) every parameter whose
    name matches that regex; '' for both trains everything."""
    key, regex_text = ("frozen", frozen) if frozen else ("trainable", pattern)
    if not regex_text:
        return
    try:
        regex = re.compile(regex_text)
    except re.error as e:
        raise UserError(f"{key}={regex_text!r} is not a valid regex: {e}")
    names = [n for n, p in model.named_parameters() if regex.search(n)]
    if not names:
        some = ", ".join(n for n, _ in list(model.named_parameters())[:6])
        raise UserError(f"{key}={regex_text!r} matches no parameter; names look like: {some}")
    if frozen and len(names) == len(list(model.parameters())):
        raise UserError(f"frozen={frozen!r} matches every parameter: nothing would train")
    for n, p in model.named_parameters():
        p.requires_grad_(bool(regex.search(n)) != bool(frozen))


def build_model(config, ckpt, device):
    """The model (seeded, or with the checkpoint's weights) on device, and its optimizer."""
    torch.manual_seed(config["seed"])
    model = GPT(model_config(config))
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
    apply_trainable(model, config["trainable"], config["frozen"])
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
        ids = [device] if device.startswith("cuda") else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                          find_unused_parameters=bool(config["ablate_mlps"]))
    return model


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
            _, loss = model(x[rows], y[rows], loss_weights=w[rows], doc_ids=doc[rows],
                            head_all=config["head_all_positions"])
            loss = loss / accum
        loss.backward()
        loss_sum += loss.detach()
    return loss_sum


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


def probe_loss(model, batch, batch_size, autocast):
    """The model's loss on the first batch_size rows of `batch` (the next step's rows: the rows the stream
    gives first after the checkpointed state)."""
    x, y, w, doc = (t[:batch_size] for t in batch)
    model.eval()
    with torch.no_grad(), autocast:
        loss = model(x, y, loss_weights=w, doc_ids=doc)[1].item()
    model.train()
    return loss


def read_losses(pending, ddp, world):
    """The losses of the steps since the last read, as floats averaged over ranks: one host sync for all."""
    losses = torch.stack(pending)
    if ddp:
        torch.distributed.all_reduce(losses)
        losses /= world
    return losses.tolist()
