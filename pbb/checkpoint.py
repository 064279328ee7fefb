"""Checkpoints: written atomically, read with weights_only=True, checked against the corpus and the run that uses
them. One payload for both training loops (payload) and one loader for a trained model (load_model)."""
import os
import runpy

import torch

from data.build import corpus_config
from model import GPT
from pbb.batches import open_data
from pbb.common import UserError
from pbb.config import ARCH_KEYS, DEFAULTS, MODEL_KEYS, model_config


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


def payload(model, optimizer, step, config, manifest, data, device_type, **extra):
    """What a checkpoint of either loop holds: weights, optimizer state, step, the run's config, the corpus's
    tokenizer hash and config, the data stream's position (`data`; {} for GRPO) and the RNG states; `extra` adds
    a loop's own keys (GRPO: grpo_ref, where it started)."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "config": config,
            "tokenizer_id": tokenizer_id(manifest), "corpus_config": corpus_config(manifest), "data": data,
            "rng": {"cpu": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state() if device_type == "cuda" else None},
            **extra}


def load_model(path, device="cpu"):
    """(the trained model of checkpoint `path`, in eval mode on device, built with the config it was trained with;
    the checkpoint dict)."""
    ckpt = load_checkpoint(path)
    model = GPT(model_config(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


def producing_config(ckpt_path):
    """The config in configs/ whose run writes ckpt_path (for the message when it is missing), or None."""
    configs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
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


def refuse_overwrite(config, ckpt_path):
    if config["init_from"] != "resume" and os.path.exists(ckpt_path) and not config["overwrite"]:
        raise UserError(f"{config['out_dir']} already holds a checkpoint; continue it with --init_from=resume, "
                        "choose another out_dir, or pass --overwrite=true")


def open_start(config, explicit, ckpt_path):
    """(corpus dir, manifest, the checkpoint to start from or None); config takes the checkpoint's
    architecture and the corpus's vocabulary size. A missing start checkpoint is reported before the corpus is
    opened (or built)."""
    ckpt = None
    check_start(config["init_from"])
    if config["init_from"] != "scratch":
        ckpt = load_checkpoint(ckpt_path if config["init_from"] == "resume" else config["init_from"])
    data_dir, manifest = open_data(config)
    if ckpt is not None:
        adopt_checkpoint(config, explicit, ckpt, data_dir, manifest)
    if config["vocab_size"] == 0:
        config["vocab_size"] = int(manifest["vocab_size"])
    if config["vocab_size"] != int(manifest["vocab_size"]):
        raise UserError(f"vocabulary mismatch: vocab_size={config['vocab_size']} but corpus {data_dir} has "
                        f"{manifest['vocab_size']} tokens; drop the vocab_size override")
    return data_dir, manifest, ckpt


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


def tokenizer_id(manifest):
    """The content hash of the corpus tokenizer: what makes token ids mean the same thing."""
    names = sorted(f for f in manifest["files"] if f.endswith(".tiktoken"))
    return manifest["files"][names[0]] if names else None
