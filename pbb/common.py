"""What the scripts share: the error a user can fix, device and precision, the GPU's peak for MFU, signals, and a
run directory's config.json and metrics.jsonl."""
import contextlib
import json
import os
import signal
import time

import torch

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


def catch_signals():
    """SIGINT and SIGTERM set stop["signal"] instead of stopping the process (main() puts the previous
    handlers back): the loop stops after its step, with a checkpoint."""
    stop = {"signal": 0}
    def on_signal(signum, frame):
        stop["signal"] = signum
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def start_out_dir(config, resumed_from):
    """Writes out_dir/config.json and starts metrics.jsonl (start_metrics); returns the path of metrics.jsonl."""
    os.makedirs(config["out_dir"], exist_ok=True)
    with open(os.path.join(config["out_dir"], "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    path = os.path.join(config["out_dir"], "metrics.jsonl")
    start_metrics(path, resumed_from)
    return path


def start_metrics(path, resumed_from):
    """Starts metrics.jsonl afresh, or on resume keeps only the records of steps already checkpointed
    (a run interrupted after its last checkpoint logged steps that will run again)."""
    old = []
    if resumed_from and os.path.exists(path):
        old = [l for l in open(path) if json.loads(l)["step"] < resumed_from]
    with open(path, "w") as f:
        f.writelines(old)


def append_record(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


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


def open_tracker(config):
    """The experiment tracker of a run: W&B (offline unless WANDB_MODE says otherwise, files in out_dir/wandb, `wandb
    sync` uploads them) when config["wandb"] names a project, else None. Returns a function that logs one record."""
    if not config["wandb"]:
        return None
    try:
        import wandb
    except ImportError:
        raise UserError("wandb is not installed: `pip install wandb` (or the interp extra), or drop --wandb")
    os.environ.setdefault("WANDB_MODE", "offline")
    os.makedirs(config["out_dir"], exist_ok=True)
    parts = os.path.normpath(config["out_dir"]).split(os.sep)  # e.g. out/pbb/cpu/seed0/pbb_stage2 -> seed0/pbb_stage2
    run = wandb.init(project=config["wandb"], name="/".join(parts[-2:]),
                     dir=config["out_dir"], config=config)
    log = lambda record: run.log({k: v for k, v in record.items() if isinstance(v, (int, float))}, step=record["step"])
    log.finish = run.finish
    return log
