"""pbb/grpo.py: group advantages and the clipped loss against hand-computed numbers, the gradient's sign,
rewards (implicit and CoT), completion masks; train.py's GRPO stage: a two-step run from a tiny checkpoint, and
`train.py --stage=grpo` stopped by SIGTERM and resumed, equal to an uninterrupted run."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import train
from data.build import ensure_corpus, load_grammars
from data.format import open_corpus
from model import GPT
from pbb import grpo
from pbb.checkpoint import load_checkpoint, save_checkpoint, tokenizer_id
from pbb.config import DEFAULTS, model_config
from pbb.grpo import completion_batch, group_advantages, grpo_loss, rewards_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_group_advantages_of_a_known_reward_matrix():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    adv = group_advantages(rewards, eps=0.0 + 1e-8)
    # row 0: mean 1/4, unbiased std sqrt((9/16 + 3/16) / 3) = 1/2; row 1: mean 1/2, std sqrt(1/3)
    s = math.sqrt(1 / 3)
    expected = torch.tensor([[1.5, -0.5, -0.5, -0.5], [0.5 / s, 0.5 / s, -0.5 / s, -0.5 / s], [0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(adv, expected, atol=1e-6)


def test_loss_equals_hand_computed_value():
    log = math.log
    logp_old = torch.full((2, 2), log(0.5))
    logp_new = torch.tensor([[log(0.6), log(0.5)], [log(0.25), log(0.9)]])
    adv, mask = torch.tensor([1.0, -1.0]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, kl = grpo_loss(logp_new, logp_old, adv, mask, clip_eps=0.1)
    # ratios 1.2 (A=+1, clipped to 1.1), 1.0 (A=+1), 0.5 (A=-1: min(-0.5, -0.9) = -0.9); last token masked
    assert loss.item() == pytest.approx(-(1.1 + 1.0 - 0.9) / 3)
    assert kl.item() == 0.0
    logp_ref = torch.full((2, 2), log(0.5))
    loss, kl = grpo_loss(logp_new, logp_old, adv, mask, 0.1, logp_ref, kl_coef=0.5)
    k3 = lambda d: math.exp(d) - d - 1  # d = log p_ref - log p_new
    hand_kl = (k3(log(0.5 / 0.6)) + k3(0.0) + k3(log(0.5 / 0.25))) / 3
    assert hand_kl == pytest.approx(0.107502, abs=1e-6)
    assert kl.item() == pytest.approx(hand_kl) and loss.item() == pytest.approx(-(1.2 / 3) + 0.5 * hand_kl)


@pytest.mark.parametrize("advantage", [1.0, -1.0])
def test_gradient_raises_the_probability_of_a_positive_advantage(advantage):
    logits = torch.zeros(1, 1, 5, requires_grad=True)
    token = torch.tensor([[3]])
    logp = torch.log_softmax(logits, -1).gather(-1, token[..., None]).squeeze(-1)
    loss, _ = grpo_loss(logp, logp.detach(), torch.tensor([advantage]), torch.ones(1, 1), 0.2)
    loss.backward()
    # a positive advantage: raising that token's logit lowers the loss (negative gradient), and the reverse
    assert (logits.grad[0, 0, 3].item() < 0) == (advantage > 0)
    with torch.no_grad():  # one small step against the gradient raises the sampled token's probability iff A > 0
        p_after = torch.softmax(logits - 0.1 * logits.grad, -1)[0, 0, 3].item()
    assert (p_after > 0.2) == (advantage > 0)


def test_completion_batch_masks_the_completion_and_eos():
    tokens, mask = completion_batch([[1, 2], [1, 2, 3]], [[4, 5], [6, 7, 8]], max_new_tokens=3, eos=9, pad=0)
    assert tokens.tolist() == [[1, 2, 4, 5, 9, 0], [1, 2, 3, 6, 7, 8]]  # the second hit max_new_tokens: no eos
    assert mask.tolist() == [[0, 1, 1, 1, 0], [0, 0, 1, 1, 1]]  # mask[t] = 1 when tokens[t + 1] is generated


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return ensure_corpus(os.path.join(ROOT, "configs", "corpus_tiny.py"), str(tmp_path_factory.mktemp("c") / "tiny"))


def test_rewards(corpus):
    grammars = load_grammars(corpus)
    name = sorted(grammars)[0]
    sentence = " ".join(sorted(grammars[name].language())[0])
    items = [{"domain": "programs", "answer": "'abc'"}, {"domain": "programs", "answer": "7"},
             {"domain": "grammars", "grammar": name}, {"domain": "grammars", "grammar": name}]
    texts = [" 'abc'\nmore", " 8", f" {sentence}\nnext", f" {sentence} {sentence} zz"]
    assert rewards_of(items, texts, grammars) == [1.0, 0.0, 1.0, 0.0]


def test_cot_rewards_read_the_answer_after_the_trace():
    items = [{"domain": "programs", "answer": "7"}] * 4
    texts = ["def f(x):\n    y = x + 3\n    return y % 10\ny = 4 + 3 = 7\nanswer: 7\n",  # right CoT answer
             "def f(x):\n    y = x + 3\n    return y % 10\ny = 4 + 3 = 7\nanswer: 8",  # wrong one
             " 7",  # the right number with no trace and no answer cue is not a CoT answer
             "y = 7\nanswer: 7 and more\n"]
    assert rewards_of(items, texts, {}, "cot") == [1.0, 0.0, 0.0, 0.0]
    assert rewards_of(items, texts, {}, "implicit") == [0.0, 0.0, 1.0, 0.0]  # the first line is the answer


def test_trace_reward_gives_half_for_the_answer_and_half_for_the_restated_sources():
    ins = {"f": "def f(x):\n    return g(h(x))\n", "g": "def g(x):\n    y = x + 1\n    return y % 10\n",
           "h": "def h(x):\n    y = x * 2\n    return y % 10\n", "k": "def k(x):\n    y = x * 3\n    return y % 10\n"}
    trace = ins["f"] + ins["h"] + "x = 2\ny = 2 * 2 = 4\n4 % 10 = 4\n" + ins["g"] + "x = 4\ny = 4 + 1 = 5\n5 % 10 = 5"
    comp = {"domain": "programs", "answer": "5", "behaviour": "f", "family": "compose"}
    plain = {"domain": "programs", "answer": "4", "behaviour": "h", "family": "arith"}
    texts = [trace + "\nanswer: 5\n", trace + "\nanswer: 6\n", trace.replace(ins["h"], ins["k"]) + "\nanswer: 5\n",
             ins["h"] + "x = 2\ny = 2 * 2 = 4\nanswer: 4\n", ins["k"] + "answer: 4\n"]
    items = [comp, comp, comp, plain, plain]
    assert rewards_of(items, texts, {}, "cot", ins) == [1.0, 0.5, 0.5, 1.0, 0.5]
    assert rewards_of(items, texts, {}, "cot") == [1.0, 0.0, 1.0, 1.0, 1.0]  # the answer only


def test_trace_reward_needs_cot_mode(corpus, tmp_path, capsys):
    manifest = open_corpus(corpus)
    config = dict(DEFAULTS, data_dir=corpus, vocab_size=manifest["vocab_size"], n_layer=1, n_head=2, n_embd=16,
                  block_size=64, out_dir=str(tmp_path / "stage1"))
    os.makedirs(config["out_dir"])
    init = os.path.join(config["out_dir"], "ckpt.pt")
    save_checkpoint(init, {"model": GPT(model_config(config)).state_dict(), "config": config, "step": 0,
                           "tokenizer_id": tokenizer_id(manifest)})
    cfg = tmp_path / "grpo_cfg.py"
    cfg.write_text("stage = 'grpo'\ngrpo_reward = 'trace'\nmax_iters = 1\nprogress = False\n")
    out = tmp_path / "rl"
    assert train.main([str(cfg), f"--init_from={init}", f"--out_dir={out}", f"--data_dir={corpus}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "grpo_mode='cot'" in err and "\n" not in err and not (out / "ckpt.pt").exists()


def test_two_steps_from_a_tiny_checkpoint(corpus, tmp_path, monkeypatch):
    # A reward that varies within groups (a random model is never right): completions of even text length.
    monkeypatch.setattr(grpo, "rewards_of", lambda items, texts, *a: [float(len(t) % 2 == 0) for t in texts])
    manifest = open_corpus(corpus)
    config = dict(DEFAULTS, data_dir=corpus, vocab_size=manifest["vocab_size"], n_layer=1, n_head=2, n_embd=16,
                  block_size=64, out_dir=str(tmp_path / "stage1"))
    torch.manual_seed(0)
    start = GPT(model_config(config)).state_dict()
    os.makedirs(config["out_dir"])
    init = os.path.join(config["out_dir"], "ckpt.pt")
    save_checkpoint(init, {"model": start, "config": config, "step": 0, "tokenizer_id": tokenizer_id(manifest)})
    cfg = tmp_path / "grpo_cfg.py"
    cfg.write_text("grpo_group_size = 3\ngrpo_prompts_per_step = 2\ngrpo_max_new_tokens = 4\ngrpo_kl = 0.1\n"
                   "stage = 'grpo'\nmax_iters = 2\nwarmup_iters = 1\nprogress = False\n"
                   "learning_rate = 1e-2\nweight_decay = 0.0\n")
    out = tmp_path / "rl"
    argv = [str(cfg), f"--init_from={init}", f"--out_dir={out}", f"--data_dir={corpus}"]
    assert train.main(argv) == 0
    records = [json.loads(l) for l in open(out / "metrics.jsonl")]
    assert [r["step"] for r in records] == [0, 1] and all(0.0 <= r["reward"] <= 1.0 for r in records)
    after = load_checkpoint(str(out / "ckpt.pt"))
    assert after["step"] == 2 and after["grpo_ref"] == init
    assert any(r["loss"] != 0.0 for r in records)
    assert not torch.equal(after["model"]["wte.weight"], start["wte.weight"])  # no weight decay: moved by the loss
    # the checkpoint's corpus
    assert train.main([str(cfg), "--init_from=resume", f"--out_dir={out}", "--max_iters=3"]) == 0
    assert [json.loads(l)["step"] for l in open(out / "metrics.jsonl")] == [0, 1, 2]


def test_grpo_does_not_import_train():
    """train.py runs the GRPO stage with pbb/grpo.py's loop; the dependency goes one way."""
    r = subprocess.run([sys.executable, "-c", "import pbb.grpo, sys; sys.exit('train' in sys.modules)"], cwd=ROOT)
    assert r.returncode == 0


def test_bad_start_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.py"
    cfg.write_text("progress = False\n")
    assert train.main([str(cfg), "--stage=grpo", f"--out_dir={tmp_path / 'x'}"]) == 2  # init_from defaults to scratch
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "init_from" in err and "\n" not in err


def test_train_py_stage_grpo_stops_on_sigterm_and_resumes_identically(corpus, tmp_path):
    """As users run it: `python train.py CONFIG --stage=grpo`, CoT prompts; a run stopped by SIGTERM and resumed
    ends with the weights of an uninterrupted run of the same length."""
    tiny = ["--progress=false", f"--data_dir={corpus}"]
    sft = subprocess.run([sys.executable, "train.py", "configs/smoke.py", *tiny, f"--out_dir={tmp_path / 'sft'}",
                          "--max_iters=2", "--eval_interval=0", "--overwrite=false"], cwd=ROOT, capture_output=True,
                         text=True)
    assert sft.returncode == 0, sft.stderr
    rl = [sys.executable, "train.py", "configs/smoke.py", "--stage=grpo", "--grpo_mode=cot", "--grpo_group_size=2",
          "--grpo_prompts_per_step=2", "--grpo_max_new_tokens=8", "--lr_decay_iters=50", "--log_interval=1",
          "--ckpt_interval=0", f"--data_dir={corpus}", "--progress=false"]
    out = tmp_path / "rl"
    p = subprocess.Popen([*rl, f"--init_from={tmp_path / 'sft' / 'ckpt.pt'}", f"--out_dir={out}", "--max_iters=100000"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / "metrics.jsonl", time.time() + 120
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 128 + signal.SIGTERM, err
    stopped = load_checkpoint(str(out / "ckpt.pt"))["step"]
    assert 2 <= stopped < 100000 and "continue with: python train.py configs/smoke.py --stage=grpo" in err
    assert f"--out_dir={out} --max_iters=100000 --init_from=resume" in err
    target = f"--max_iters={stopped + 2}"
    r = subprocess.run([*rl, "--init_from=resume", f"--out_dir={out}", target], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    ref = subprocess.run([*rl, f"--init_from={tmp_path / 'sft' / 'ckpt.pt'}", f"--out_dir={tmp_path / 'ref'}", target],
                         cwd=ROOT, capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    a, b = (load_checkpoint(str(d / "ckpt.pt"))["model"] for d in (out, tmp_path / "ref"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(l)["step"] for l in open(out / "metrics.jsonl")]
    assert steps == list(range(stopped + 2))
