"""GRPO, the RL stage of Retroactive PBB: rewards, group advantages and the clipped policy loss. The run
itself (setup, the loop, checkpoints) is train.py's train_grpo, for a config with stage='grpo':

    python train.py CONFIG.py --stage=grpo --init_from=out/retro_stage1/ckpt.pt [--key=value ...]

Config keys are train.py's, the grpo_* ones among them. Each step takes grpo_prompts_per_step prompts
of rl.DOMAIN.S_train.jsonl (training inputs; eval inputs are never used), samples grpo_group_size
completions of each with the KV-cache generator, and rewards each one: programs 1 when
parse_completion(text, grpo_mode) equals the answer, grammars 1 when the string is in the language.
grpo_mode='implicit' asks for the answer directly; 'cot' appends the CoT cue to every prompt (as eval.py's
CoT mode does) and rewards the answer after the trace's answer cue, so RL can reinforce recalling the
instruction from the weights and executing it.
Advantages are normalised within each group of the same prompt; the loss is the clipped policy
objective (PPO-style ratio to the sampling policy), averaged over all completion tokens of the
batch, plus grpo_kl times the k3 estimate of KL(policy || starting model). metrics.jsonl gets the
mean reward of every step. SIGINT/SIGTERM write a checkpoint that --init_from=resume continues identically.
"""
import json
import os

import torch

from data.format import CorpusError
from data.templates import parse_completion


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


def rewards_of(items, texts, grammars, mode="implicit"):
    """1.0 for an exactly correct program answer or a valid grammar string, else 0.0; the answer is read
    from each completion as eval.py reads it in `mode` ('implicit' or 'cot')."""
    out = []
    for it, text in zip(items, texts):
        answer = parse_completion(text, mode)
        ok = answer == it["answer"] if it["domain"] == "programs" else grammars[it["grammar"]].is_valid(answer)
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
