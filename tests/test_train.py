"""train.py: config errors, packing, checkpoints (atomic, safe, resumable bit-identically), freezing, DDP."""
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import train
from data.format import open_corpus, write_docs, write_manifest
from model import GPT
from pbb.batches import Batches, load_mixtures
from pbb import checkpoint
from pbb.checkpoint import load_checkpoint, save_checkpoint
from pbb.common import UserError
from pbb.config import DEFAULTS, MODEL_KEYS, SECTIONS, model_config
from pbb.training import train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--n_layer=2", "--n_head=2", "--n_embd=32", "--block_size=64", "--batch_size=4", "--progress=false",
        "--warmup_iters=2", "--eval_interval=3", "--eval_iters=2", "--val_data=pretrain_val", "--learning_rate=3e-3"]


def make_corpus(path, seed, vocab=50, n_docs=120):
    rng = np.random.default_rng(seed)
    def docs(n):
        for _ in range(n):
            L = int(rng.integers(3, 40))
            yield rng.integers(0, vocab, L), (rng.random(L) < 0.7).astype(np.float32)
    write_docs(path, "pretrain", docs(n_docs))
    write_docs(path, "pretrain_val", docs(20))
    with open(os.path.join(path, "tok.tiktoken"), "w") as f:
        f.write(f"tokenizer {seed}\n")
    write_manifest(path, vocab)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), 0)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "cfg.py"
    p.write_text("max_iters = 6\nseed = 3\n")
    return str(p)


def run(config_file, corpus, out, *extra):
    return train.main([config_file, f"--data_dir={corpus}", f"--out_dir={out}", *TINY, *extra])


def losses(out):
    return [json.loads(l)["loss"] for l in open(os.path.join(out, "metrics.jsonl"))]


def weights(out):
    return load_checkpoint(os.path.join(out, "ckpt.pt"))["model"]


def test_unknown_key_is_one_line_naming_the_closest(config_file, tmp_path):
    r = subprocess.run([sys.executable, "train.py", config_file, "--learning_rat=1e-3"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "learning_rat" in r.stderr and "learning_rate" in r.stderr


@pytest.mark.parametrize("arg,needle", [("--max_iters=ten", "max_iters"), ("--compile=maybe", "true or false"),
                                        ("--attn_backend=flash", "attn_backend"), ("oops", "--key=value"),
                                        ("--device=tpu", "device"), ("--batch_size=0", "at least 1"),
                                        ("--max_iters=-3", "0 or more"),
                                        ("--ablate_heads=[[0,7]]", "ablate_heads"),
                                        ("--attn_backend=flex", "CUDA GPU only")])
def test_bad_values_are_clear(config_file, corpus, tmp_path, capsys, arg, needle):
    assert run(config_file, corpus, tmp_path, arg) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err and err.count("\n") == 1


def test_wrong_type_in_config_file(corpus, tmp_path, capsys):
    cfg = tmp_path / "bad.py"
    cfg.write_text("batch_size = '32'\n")
    assert train.main([str(cfg), f"--data_dir={corpus}"]) == 2
    assert "batch_size" in capsys.readouterr().err


def test_packing_walks_every_document_once_per_epoch_and_never_splits(corpus):
    from data.format import Docs
    docs = Docs(corpus, "pretrain")
    stream = Batches([docs], 63, seed=1)
    seen = []
    while stream.epoch == 0:
        tok, w, doc = stream.row()
        for d in np.unique(doc[doc >= 0]):
            seen.append(tuple(tok[doc == d]))
    assert sorted(seen[: len(docs)]) == sorted(tuple(docs[i][0]) for i in range(len(docs)))
    x, y, w, doc = Batches([docs], 63, seed=1).take(8)
    assert torch.equal(x[:, 1:], y[:, :-1])
    boundary = doc[:, 1:] != doc[:, :-1]  # position i's target is the first token of another document
    assert boundary.any() and (w[:, :-1][boundary] == 0).all()


def test_resume_is_bit_identical(config_file, corpus, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run(config_file, corpus, full, "--max_iters=12", "--lr_decay_iters=12", "--dropout=0.1") == 0
    assert run(config_file, corpus, part, "--max_iters=5", "--lr_decay_iters=12", "--dropout=0.1") == 0
    assert run(config_file, corpus, part, "--max_iters=12", "--lr_decay_iters=12", "--dropout=0.1",
               "--init_from=resume") == 0
    a, b = weights(full), weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert losses(full) == losses(part)
    assert len(losses(full)) == 12 + 1  # one record per step, plus the final val loss


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_checkpoints_and_resume_matches(config_file, corpus, tmp_path, sig):
    out = tmp_path / "sig"
    cmd = [sys.executable, "train.py", config_file, f"--data_dir={corpus}", f"--out_dir={out}", *TINY,
           "--max_iters=100000", "--lr_decay_iters=50"]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.1)
    p.send_signal(sig)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 128 + sig, err
    assert "init_from=resume" in err
    stopped = load_checkpoint(str(out / "ckpt.pt"))["step"]
    assert 3 <= stopped < 100000
    target = stopped + 3
    assert run(config_file, corpus, out, f"--max_iters={target}", "--lr_decay_iters=50", "--init_from=resume") == 0
    ref = tmp_path / "ref"
    assert run(config_file, corpus, ref, f"--max_iters={target}", "--lr_decay_iters=50") == 0
    a, b = weights(ref), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "ckpt.pt")
    save_checkpoint(path, {"model": {"w": torch.ones(3)}, "config": {}, "step": 1})
    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "config": {}, "step": 2})
    assert load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"]


class Evil:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the hand-written pickle below
def test_unsafe_truncated_and_missing_checkpoints_are_refused(tmp_path):
    evil, sentinel = tmp_path / "evil.pt", tmp_path / "payload_ran"
    with open(evil, "wb") as f:
        pickle.dump({"model": Evil(sentinel), "config": {}, "step": 0}, f)
    with pytest.raises(UserError, match="unsafe"):
        load_checkpoint(str(evil))
    assert not sentinel.exists()  # refused before anything in the pickle ran
    good = tmp_path / "good.pt"
    save_checkpoint(str(good), {"model": {"w": torch.ones(1000)}, "config": {}, "step": 1})
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        load_checkpoint(str(tmp_path / "cut.pt"))
    with pytest.raises(UserError, match="no checkpoint"):
        load_checkpoint(str(tmp_path / "absent.pt"))


def test_trainable_freezes_everything_else(config_file, corpus, tmp_path):
    stage1, stage2 = tmp_path / "s1", tmp_path / "s2"
    assert run(config_file, corpus, stage1) == 0
    assert run(config_file, corpus, stage2, f"--init_from={stage1}/ckpt.pt", r"--trainable=\.mlp\.") == 0
    a, b = weights(stage1), weights(stage2)
    for k in a:
        if ".mlp." in k:
            assert not torch.equal(a[k], b[k]), k
        else:
            assert torch.equal(a[k], b[k]), k


def test_frozen_freezes_what_it_matches_and_is_refused_beside_trainable(config_file, corpus, tmp_path, capsys):
    stage1, stage2 = tmp_path / "s1", tmp_path / "s2"
    assert run(config_file, corpus, stage1) == 0
    assert run(config_file, corpus, stage2, f"--init_from={stage1}/ckpt.pt", r"--frozen=\.mlp\.") == 0
    a, b = weights(stage1), weights(stage2)
    for k in a:
        assert torch.equal(a[k], b[k]) == (".mlp." in k), k  # the MLPs exactly as they were, everything else moved
    assert run(config_file, corpus, tmp_path / "s3", r"--frozen=\.mlp\.", r"--trainable=\.attn\.") == 2
    assert "set one of the two" in capsys.readouterr().err
    assert run(config_file, corpus, tmp_path / "s4", "--frozen=.") == 2  # nothing would train
    assert "matches every parameter" in capsys.readouterr().err


def test_help_lists_every_key_with_its_default_and_exits_0():
    r = subprocess.run([sys.executable, "train.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    for key, value in DEFAULTS.items():
        assert f"  {key} = {value!r}" in r.stdout, key
    assert {k for section, keys in SECTIONS if section.startswith("model") for k, _, _ in keys} == set(MODEL_KEYS)


def test_type_errors_name_the_type_in_words(config_file, corpus, tmp_path, capsys):
    assert run(config_file, corpus, tmp_path, "--max_iters=1.5") == 2
    assert "should be an integer, not a number" in capsys.readouterr().err
    assert run(config_file, corpus, tmp_path, "--max_iters=ten") == 2
    assert "expected an integer" in capsys.readouterr().err
    cfg = tmp_path / "bad.py"
    cfg.write_text("learning_rate = 'fast'\n")
    assert train.main([str(cfg), f"--data_dir={corpus}"]) == 2
    assert "should be a number, not a string" in capsys.readouterr().err


def test_threads_sets_the_processes_threads(config_file, corpus, tmp_path):
    before = torch.get_num_threads()
    try:
        assert run(config_file, corpus, tmp_path, "--threads=1", "--max_iters=1") == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_missing_start_checkpoint_is_named_before_any_corpus_is_opened(tmp_path, monkeypatch, capsys):
    """configs/pbb_stage1.py in a fresh clone: the message names the stage to run first; no corpus is built."""
    monkeypatch.chdir(tmp_path)  # no out/ here: the pretrained checkpoint the config starts from does not exist
    monkeypatch.setenv("PBB_PRESET", "micro")
    monkeypatch.setattr(checkpoint, "open_data", lambda config: pytest.fail("the corpus was opened"))
    assert train.main([os.path.join(ROOT, "configs", "pbb_stage1.py")]) == 2
    assert "run `python train.py configs/pretrain.py` first" in capsys.readouterr().err


def test_starting_a_stage_from_another_corpus_is_refused(config_file, corpus, tmp_path, capsys):
    assert run(config_file, corpus, tmp_path / "a") == 0
    other = make_corpus(tmp_path / "other", seed=9)
    assert run(config_file, other, tmp_path / "b", f"--init_from={tmp_path}/a/ckpt.pt") == 2
    assert "vocabulary mismatch" in capsys.readouterr().err


def test_architecture_override_against_checkpoint_is_refused(config_file, corpus, tmp_path, capsys):
    assert run(config_file, corpus, tmp_path / "a") == 0
    assert run(config_file, corpus, tmp_path / "b", f"--init_from={tmp_path}/a/ckpt.pt", "--n_layer=3") == 2
    assert "n_layer" in capsys.readouterr().err


def test_a_new_run_does_not_overwrite_a_checkpoint(config_file, corpus, tmp_path, capsys):
    assert run(config_file, corpus, tmp_path / "a") == 0
    assert run(config_file, corpus, tmp_path / "b") == 0
    before = (tmp_path / "b" / "ckpt.pt").read_bytes()
    for init in ["scratch", f"{tmp_path}/a/ckpt.pt"]:  # from scratch, or a new stage from a checkpoint
        assert run(config_file, corpus, tmp_path / "b", f"--init_from={init}") == 2
        assert "init_from=resume" in capsys.readouterr().err
    assert (tmp_path / "b" / "ckpt.pt").read_bytes() == before


def test_nan_loss_stops_and_keeps_last_good_checkpoint(config_file, corpus, tmp_path, capsys, monkeypatch):
    # three sane steps, then one at lr 1e30: its loss is still finite, the weights it leaves are not usable
    monkeypatch.setattr(train, "get_lr", lambda config, step: 1e-3 if step < 3 else 1e30)
    assert run(config_file, corpus, tmp_path, "--grad_clip=0", "--ckpt_interval=1", "--max_iters=50") == 2
    err = capsys.readouterr().err
    assert "loss became" in err and "last good checkpoint" in err
    ckpt = load_checkpoint(str(tmp_path / "ckpt.pt"))
    assert ckpt["step"] == 3 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    # a good checkpoint: on the batch its step trained on, it gives the finite loss logged at that step
    config = ckpt["config"]
    model = GPT(model_config(config))
    model.load_state_dict(ckpt["model"])
    stream = Batches(load_mixtures(corpus, config["train_data"], open_corpus(corpus)),
                           config["block_size"], config["seed"])
    stream.load_state(ckpt["data"])
    x, y, w, doc = stream.take(config["batch_size"])
    with torch.no_grad():
        loss = model(x, y, loss_weights=w, doc_ids=doc)[1].item()
    logged = {json.loads(l)["step"]: json.loads(l)["loss"] for l in open(tmp_path / "metrics.jsonl")}
    assert math.isfinite(loss) and loss == pytest.approx(logged[3], rel=1e-5)


def test_lr_follows_warmup_and_cosine_and_clipping_bounds_the_gradient(config_file, corpus, tmp_path, monkeypatch):
    seen = []  # the gradient norm each optimizer step is given
    step = torch.optim.AdamW.step
    def recording_step(self, *a, **k):
        seen.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for g in self.param_groups
                                                          for p in g["params"] if p.grad is not None])).item())
        return step(self, *a, **k)
    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    assert run(config_file, corpus, tmp_path, "--max_iters=12", "--warmup_iters=4", "--learning_rate=1e-2",
               "--min_lr=1e-3", "--lr_decay_iters=10", "--grad_clip=0.05") == 0
    recs = [json.loads(l) for l in open(tmp_path / "metrics.jsonl") if "lr" in json.loads(l)]
    for r in recs:
        s = r["step"]
        want = 1e-2 * (s + 1) / 4 if s < 4 else 1e-3 + 0.5 * (1 + math.cos(math.pi * min(1, (s - 4) / 6))) * 9e-3
        assert r["lr"] == pytest.approx(want, rel=1e-12), s
    assert [r["step"] for r in recs] == list(range(12))
    assert max(seen) <= 0.05 * (1 + 1e-4)  # every step clipped to grad_clip...
    assert min(r["grad_norm"] for r in recs) > 0.05  # ...from a larger norm, so clipping acted


def test_dropout_acts_in_training_and_not_in_evaluation(config_file, corpus, tmp_path):
    for p in (0.0, 0.5):
        assert run(config_file, corpus, tmp_path / str(p), "--max_iters=1", f"--dropout={p}") == 0
    first = [json.loads(open(tmp_path / str(p) / "metrics.jsonl").readline()) for p in (0.0, 0.5)]
    assert first[0]["val_loss"] == first[1]["val_loss"]  # same initial weights, evaluated without dropout
    assert first[0]["loss"] != first[1]["loss"]  # the training forward drops activations


def test_ddp_two_ranks_equal_one_process_with_twice_the_accumulation(config_file, corpus, tmp_path):
    common = [config_file, f"--data_dir={corpus}", *TINY, "--max_iters=4", "--device=cpu"]
    one = subprocess.run([sys.executable, "train.py", *common, f"--out_dir={tmp_path / 'one'}", "--grad_accum=2"],
                         cwd=ROOT, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "train.py", *common, f"--out_dir={tmp_path / 'two'}"], cwd=ROOT, capture_output=True,
                         text=True, env=env)
    assert two.returncode == 0, two.stderr[-2000:]
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-5)
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)


def records(out):
    return {r["step"]: r for r in map(json.loads, open(os.path.join(out, "metrics.jsonl")))}


def test_log_interval_logs_the_losses_of_a_run_that_logs_every_step(config_file, corpus, tmp_path):
    every, sparse = tmp_path / "every", tmp_path / "sparse"
    assert run(config_file, corpus, every, "--max_iters=12") == 0
    assert run(config_file, corpus, sparse, "--max_iters=12", "--log_interval=4") == 0
    a, b = records(every), records(sparse)
    assert sorted(b) == [0, 3, 6, 7, 9, 11, 12]  # every 4th step, the eval steps (eval_interval=3), the final val
    for s in b:
        for k in ("loss", "val_loss", "grad_norm", "lr"):
            assert (k in a[s]) == (k in b[s]) and a[s].get(k) == b[s].get(k), (s, k)
        assert s == 12 or b[s]["tokens_per_s"] > 0
    wa, wb = weights(every), weights(sparse)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_the_host_reads_the_device_only_at_logged_steps(config_file, corpus, tmp_path, monkeypatch):
    reads = []  # each Tensor.item / tolist: a host sync on a GPU
    for name in ("item", "tolist"):
        orig = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, _o=orig, _n=name: reads.append(_n) or _o(self))
    counts = []
    for n in (4, 16):
        reads.clear()
        assert run(config_file, corpus, tmp_path / str(n), f"--max_iters={n}", "--log_interval=100",
                   "--eval_interval=0", "--val_data=[]") == 0
        counts.append(len(reads))
    assert counts[0] == counts[1] <= 4  # the final step's losses and grad norm, the checkpoint probe: not per step


def test_a_non_finite_loss_between_logged_steps_stops_before_the_next_checkpoint(config_file, corpus, tmp_path,
                                                                                 capsys, monkeypatch):
    calls, step = [], train_step
    def nan_at_step_2(*a, **k):
        calls.append(1)
        loss = step(*a, **k)
        return loss * float("nan") if len(calls) == 3 else loss
    monkeypatch.setattr(train, "train_step", nan_at_step_2)
    assert run(config_file, corpus, tmp_path, "--max_iters=50", "--log_interval=5", "--ckpt_interval=3",
               "--eval_interval=0", "--val_data=[]") == 2
    assert "loss became nan at step 2; no checkpoint was written" in capsys.readouterr().err
    assert len(calls) == 3 and not (tmp_path / "ckpt.pt").exists()  # read at the checkpoint step, before saving


def test_head_at_all_positions_gives_the_same_training(config_file, corpus, tmp_path):
    assert run(config_file, corpus, tmp_path / "kept", "--max_iters=6") == 0
    assert run(config_file, corpus, tmp_path / "all", "--max_iters=6", "--head_all_positions=true") == 0
    np.testing.assert_allclose(losses(tmp_path / "all"), losses(tmp_path / "kept"), rtol=1e-5)
    a, b = weights(tmp_path / "kept"), weights(tmp_path / "all")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_weighted_stream_draws_each_mixture_at_its_share_and_resumes_identically(corpus):
    from data.format import Docs
    mixtures = [Docs(corpus, "pretrain"), Docs(corpus, "pretrain_val")]
    stream = Batches(mixtures, 63, seed=3, weights=[1.0, 3.0])
    rows = [stream.row() for _ in range(40)]
    total = sum(stream.seen)
    assert total > 100 and abs(stream.seen[1] / total - 0.75) < 0.1  # 3:1 by documents, whatever the sizes
    for tok, w, doc in rows:  # whole documents: each one is a document of one of the mixtures
        for d in np.unique(doc[doc >= 0]):
            t = tuple(tok[doc == d])
            assert any(t == tuple(m[i][0][:len(t)]) for m in mixtures for i in range(len(m)) if len(m[i][0]) == len(t))
    again = Batches(mixtures, 63, seed=3, weights=[1.0, 3.0])
    for _ in range(17):
        again.row()
    state = again.state()
    resumed = Batches(mixtures, 63, seed=3, weights=[1.0, 3.0])
    resumed.load_state(state)
    assert all(np.array_equal(a, b) for r, s in zip(rows[17:], (resumed.row() for _ in range(23)))
               for a, b in zip(r, s))
    assert resumed.seen == stream.seen
    with pytest.raises(ValueError, match="weighted"):  # a weighted stream's state does not resume an unweighted one
        Batches(mixtures, 63, seed=3).load_state(state)


def test_train_weights_need_one_number_per_mixture(config_file, corpus, tmp_path, capsys):
    assert run(config_file, corpus, tmp_path, "--train_data=pretrain,pretrain_val", "--train_weights=[1.0]") == 2
    err = capsys.readouterr().err
    assert (len(err.strip().splitlines()) == 1
            and "train_weights=[1.0] needs one number >= 0 per train_data mixture" in err)
    assert run(config_file, corpus, tmp_path, "--train_data=pretrain,pretrain_val", "--train_weights=[1, 3]",
               "--max_iters=3") == 0
    last = json.loads(open(tmp_path / "metrics.jsonl").read().splitlines()[-1])
    assert set(last["docs_seen"]) == {"pretrain", "pretrain_val"} and last["docs_seen"]["pretrain_val"] > 0


@pytest.mark.parametrize("weights", ["[1, True]", "[1, inf]", "[0, 0]"])
def test_train_weights_must_be_finite_non_negative_numbers(config_file, corpus, tmp_path, capsys, weights):
    assert run(config_file, corpus, tmp_path, "--train_data=pretrain,pretrain_val", f"--train_weights={weights}") == 2
    assert "needs one number >= 0 per train_data mixture" in capsys.readouterr().err


def test_wandb_logs_the_metrics_offline_into_out_dir(config_file, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline by default
    assert run(config_file, corpus, tmp_path, "--wandb=pbb-test", "--max_iters=3") == 0
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))  # the run's history, for `wandb sync`
    assert os.environ.get("WANDB_MODE") in (None, "offline")


def test_grpo_keys_on_a_stage_that_is_not_grpo_are_refused():
    """A GRPO key on an SFT stage would be ignored: refused in one line; on a GRPO stage it is taken."""
    from pbb.config import load_config
    with pytest.raises(UserError, match="grpo_kl, grpo_reward set for a stage with stage='sft'"):
        load_config(["configs/smoke.py", "--grpo_reward=trace", "--grpo_kl=0.1"])
    cfg = load_config(["configs/smoke.py", "--stage=grpo", "--grpo_reward=trace"])[0]
    assert cfg["grpo_reward"] == "trace"
