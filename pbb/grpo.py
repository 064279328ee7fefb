"""GRPO, the RL stage of Retroactive PBB: rewards, group advantages, the clipped policy loss, and its training loop
(train_grpo), which train.py runs for a config with stage='grpo':

    python train.py CONFIG.py --stage=grpo --init_from=out/retro_stage1/ckpt.pt [--key=value ...]

Config keys are train.py's, the grpo_* ones among them. Each step takes grpo_prompts_per_step prompts
of rl.DOMAIN.S_train.jsonl (training inputs; eval inputs are never used), samples grpo_group_size
completions of each with the KV-cache generator, and rewards each one: programs 1 when
parse_completion(text, grpo_mode) equals the answer, grammars 1 when the string is in the language.
grpo_mode='implicit' asks for the answer directly; 'cot' appends the CoT cue to every prompt (as eval.py's
CoT mode does) and rewards the answer after the trace's answer cue, so RL can reinforce recalling the
instruction from the weights and executing it. grpo_reward='trace' (CoT, programs) gives half the reward for the
answer and half for a trace that restates the source exactly, and a composition's callees' sources after it (h's,
then g's): a reward that judges the lookup, not only its result.
Advantages are normalised within each group of the same prompt; the loss is the clipped policy
objective (PPO-style ratio to the sampling policy), averaged over all completion tokens of the
batch, plus grpo_kl times the k3 estimate of KL(policy || starting model). metrics.jsonl gets the
mean reward of every step. SIGINT/SIGTERM write a checkpoint that --init_from=resume continues identically.
"""
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch

from data.build import load_grammars, load_instructions
from data.format import CorpusError
from data.templates import COT_CUE, parse_completion
from data.tokenizer import encode_prompt
from data.tokenizer import load as load_tokenizer
from pbb.batches import open_data
from pbb.checkpoint import adopt_checkpoint, check_start, load_checkpoint, payload, refuse_overwrite, save_checkpoint
from pbb.common import (UserError, append_record, catch_signals, open_tracker, precision, resolve_device,
                        resume_command, start_out_dir)
from pbb.evaluate import callee_parts, callees_restated
from pbb.training import build_model, get_lr, resume


def group_advantages(rewards, eps=1e-4):
    """(P, G) rewards of G completions per prompt -> (rewards - group mean) / (group std + eps).
    std is the unbiased sample std; a group whose rewards are all equal gets advantage 0."""
    return (rewards - rewards.mean(dim=1, keepdim=True)) / (rewards.std(dim=1, keepdim=True) + eps)


def grpo_loss(logp_new, logp_old, adv, mask, clip_eps, logp_ref=None, kl_coef=0.0):
    """Clipped policy loss. logp_*: (N, T) log-probabilities of the sampled tokens under the policy
    being trained, the policy that sampled them and the reference model; adv: (N,) advantage of each
    completion; mask: (N, T) 1 on completion tokens. Returns (loss, kl): the negated mean over all
    completion tokens of min(r A, clip(r, 1 - eps, 1 + eps) A) with r = exp(logp_new - logp_old),
    plus kl_coef times the mean k3 estimate exp(d) - d - 1 with d = logp_ref - logp_new."""
    mask = mask.to(logp_new.dtype)
    n_tokens = mask.sum().clamp(min=1)
    ratio = torch.exp(logp_new - logp_old)
    adv = adv.view(-1, 1)
    objective = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    loss = -(objective * mask).sum() / n_tokens
    kl = torch.zeros((), device=logp_new.device)
    if logp_ref is not None:
        d = logp_ref - logp_new
        kl = ((torch.exp(d) - d - 1) * mask).sum() / n_tokens
        loss = loss + kl_coef * kl
    return loss, kl


def rewards_of(items, texts, grammars, mode="implicit", instructions=None):
    """1.0 for an exactly correct program answer or a valid grammar string, else 0.0; the answer is read
    from each completion as eval.py reads it in `mode` ('implicit' or 'cot'). With instructions ({name: source},
    grpo_reward='trace'), a program's reward is half for the answer and half for the trace: it restates the
    behaviour's source exactly and, for a composition with nested traces, then h's source and later g's (eval.py's
    callee_recall)."""
    out = []
    for it, text in zip(items, texts):
        answer = parse_completion(text, mode)
        ok = answer == it["answer"] if it["domain"] == "programs" else grammars[it["grammar"]].is_valid(answer)
        if instructions and it["domain"] == "programs":
            name = it["behaviour"]
            told = callees_restated(text, name, instructions) if callee_parts(name, instructions) \
                else text.startswith(instructions[name])
            ok = (ok + told) / 2
        out.append(float(ok))
    return out


def completion_batch(prompts, completions, max_new_tokens, eos, pad):
    """Right-padded (N, T) tokens of prompt + completion (+ eos where generation stopped at eos), and
    the (N, T - 1) mask of positions whose next token is a completion token."""
    seqs, starts = [], []
    for p, c in zip(prompts, completions):
        seqs.append(p + c + ([eos] if len(c) < max_new_tokens else []))
        starts.append(len(p))
    T = max(map(len, seqs))
    tokens = torch.full((len(seqs), T), pad, dtype=torch.long)
    mask = torch.zeros(len(seqs), T - 1)
    for n, (s, start) in enumerate(zip(seqs, starts)):
        tokens[n, :len(s)] = torch.tensor(s)
        mask[n, start - 1:len(s) - 1] = 1.0
    return tokens, mask


def token_logprobs(model, tokens):
    """(N, T - 1) log-probability of each next token."""
    logits, _ = model(tokens[:, :-1])
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)


def load_rl_items(data_dir, manifest, domains):
    items = []
    for domain in domains:
        name = f"rl.{domain}.S_train.jsonl"
        if name in manifest["files"]:
            with open(os.path.join(data_dir, name)) as f:
                items += [json.loads(line) for line in f]
    if not items:
        raise CorpusError(f"corpus {data_dir} has no RL prompts (rl.DOMAIN.S_train.jsonl) for grpo_domains={domains}")
    return items


def train_grpo(config, explicit=(), argv=None):
    """The GRPO stage (stage='grpo'; its objective is above): RL on the corpus's S_train exec prompts from a
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
    items = load_rl_items(data_dir, manifest, config["grpo_domains"])
    instructions = None
    if config["grpo_reward"] == "trace":  # the trace is judged against the sources a CoT trace restates
        if config["grpo_mode"] != "cot" or not manifest["config"].get("cot_restates_instruction", True):
            raise UserError("grpo_reward='trace' judges a CoT trace that restates the source: set grpo_mode='cot', "
                            "on a corpus whose traces restate it (cot_restates_instruction)")
        instructions = load_instructions(data_dir)
    P, G = config["grpo_prompts_per_step"], config["grpo_group_size"]
    if P < 1 or G < 2:
        raise UserError("grpo_prompts_per_step must be >= 1 and grpo_group_size >= 2 (advantages compare a group)")

    model, optimizer = build_model(config, ckpt, device)
    ref = None
    if config["grpo_kl"] > 0:
        ref_ckpt = ckpt if config["init_from"] != "resume" else load_checkpoint(ref_path)
        ref = copy.deepcopy(model)
        ref.load_state_dict(ref_ckpt["model"])
        ref.requires_grad_(False).eval()
    start = resume(ckpt, optimizer, device_type) if config["init_from"] == "resume" else 0
    metrics_path, tracker = start_out_dir(config, start), open_tracker(config)
    print(f"GRPO from {config['init_from']}: {len(items)} prompts, {P} x {G} completions per step; "
          f"device {device}, {dtype}; steps {start} -> {config['max_iters']}")

    def checkpoint(step):
        save_checkpoint(ckpt_path, payload(model, optimizer, step, config, manifest, {}, device_type,
                                           grpo_ref=ref_path))

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
            raise UserError(f"RL prompts of {max(map(len, prompts))} tokens leave no room in "
                            f"block_size={config['block_size']}")
        generator = torch.Generator(device=device).manual_seed(config["seed"] * 1_000_003 + step)
        model.eval()
        completions = model.generate(prompts, n_new, temperature=config["grpo_temperature"], stop_token=eos,
                                     generator=generator)
        rewards = torch.tensor(rewards_of(batch, [enc.decode(c) for c in completions], grammars, mode,
                                          instructions)).view(P, G)
        adv = group_advantages(rewards).view(-1).to(device)
        tokens, mask = (t.to(device) for t in completion_batch(prompts, completions, n_new, eos, pad))
        with torch.no_grad(), autocast:
            logp_old = token_logprobs(model, tokens)
            logp_ref = token_logprobs(ref, tokens) if ref is not None else None
        model.train()
        for _ in range(config["grpo_updates"]):
            with autocast:
                loss, kl = grpo_loss(token_logprobs(model, tokens), logp_old, adv, mask, config["grpo_clip"],
                                          logp_ref, config["grpo_kl"])
            if not math.isfinite(loss.item()):  # before the update: the last checkpoint stays good
                raise UserError(f"GRPO loss became {loss.item()} at step {step}; lower learning_rate")
            loss.backward()
            if config["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        record = dict(step=step, reward=rewards.mean().item(), loss=loss.item(), kl=kl.item(), lr=lr,
                      completion_tokens=int(mask.sum().item()), time=round(time.time(), 3),
                      dt=round(time.time() - t0, 3))
        if (step + 1) % config["log_interval"] == 0:
            append_record(metrics_path, record)
            if tracker:
                tracker(record)
        bar.update(1)
        bar.set_postfix(reward=f"{record['reward']:.3f}", loss=f"{record['loss']:.4g}")
        if stop["signal"]:
            checkpoint(step + 1)
            bar.close()
            if tracker:
                tracker.finish()
            print(f"stopped by signal at step {step + 1}; checkpoint saved to {ckpt_path}; continue with: "
                  f"{resume_command(argv)}", file=sys.stderr)
            return 128 + stop["signal"]
        if config["ckpt_interval"] and (step + 1) % config["ckpt_interval"] == 0:
            checkpoint(step + 1)
    bar.close()
    if tracker:
        tracker.finish()
    checkpoint(config["max_iters"])
    print(f"done: {config['max_iters']} steps; checkpoint {ckpt_path}")
    return 0
