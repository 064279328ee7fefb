"""Train a GPT. Every stage of every curriculum is one run of this file.

    python train.py configs/smoke.py [--key=value ...]
    python train.py --help                                                  # every key, its default and meaning
    torchrun --standalone --nproc_per_node=2 train.py configs/smoke.py     # DDP

A config file is plain Python: module-level names override the defaults (pbb/config.py); `--key=value` overrides
both. The run's out_dir gets config.json, metrics.jsonl (one JSON object per logged step) and ckpt.pt.
stage='sft' trains on the next-token loss (train, below); stage='grpo' by RL (pbb/grpo.py's train_grpo).
The pieces of the loop live in pbb/: config, checkpoints, batches, training (optimizer, schedule, step).
"""
import math
import os
import signal
import sys
import time

import torch

from data.format import CorpusError
from pbb import grpo
from pbb.batches import fetch, open_batches
from pbb.checkpoint import open_start, payload, refuse_overwrite, save_checkpoint
from pbb.common import (UserError, append_record, catch_signals, fill_record, open_tracker, peak_flops, precision,
                        resolve_device, resume_command, start_out_dir)
from pbb.config import DEFAULTS, describe, load_config
from pbb.training import build_model, evaluate, get_lr, probe_loss, read_losses, resume, train_step, wrap


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


def announce(config, model, data_dir, where, start_step):
    """Two lines at the start of a run: the keys set away from their defaults, and model, corpus, device, steps."""
    changed = ", ".join(f"{k}={v!r}" for k, v in config.items() if v != DEFAULTS[k])
    print(f"config ({os.path.join(config['out_dir'], 'config.json')} has every key): {changed}")
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{model.num_params() / 1e6:.2f}M parameters ({n_train / 1e6:.2f}M trainable); corpus {data_dir}; "
          f"{where}; steps {start_step} -> {config['max_iters']}")


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
    tracker = open_tracker(config) if master else None
    if master:
        metrics_path = start_out_dir(config, start_step)
        announce(config, raw_model, data_dir, f"device {device}, {dtype}, {world} process(es)", start_step)

    def kept():
        return (f"the last good checkpoint is kept in {ckpt_path}" if os.path.exists(ckpt_path)
                else "no checkpoint was written")

    def checkpoint(step):
        """Writes ckpt.pt only when the model it would hold gives a finite loss on the next training batch:
        a kept checkpoint is always a good one."""
        probe = probe_loss(raw_model, batch, B, autocast)
        if not math.isfinite(probe):
            raise UserError(f"loss became {probe} after step {step} (checked before saving it); {kept()}; "
                            "lower learning_rate or check the data")
        if master:
            save_checkpoint(ckpt_path, payload(raw_model, optimizer, step, config, manifest, state, device_type))

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
                if tracker:
                    tracker(record)
            shown = ("loss", "val_loss", "lr", "tokens_per_s", "mfu")
            bar.set_postfix({k: f"{record[k]:.4g}" for k in shown if k in record})
            pending = []
        bar.update(1)
        if stopping:
            checkpoint(step)
            bar.close()
            if tracker:
                tracker.finish()
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
        if tracker:
            tracker.finish()
    checkpoint(step)
    if master:
        print(f"done: {step} steps; checkpoint {ckpt_path}")
    return 0


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(describe())
        return 0
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        config, explicit = load_config(argv)
        if config["threads"]:
            torch.set_num_threads(config["threads"])
        return (grpo.train_grpo if config["stage"] == "grpo" else train)(config, explicit, argv)
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
