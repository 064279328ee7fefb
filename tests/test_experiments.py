"""The experiment runner on the micro preset, end to end, and the wiring of every curriculum's configs."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from data.build import corpus_config
from experiments import pbb as pbb_experiment
from pbb.batches import open_data
from pbb.checkpoint import load_checkpoint
from pbb.config import load_config
from pbb.evaluate import default_max_new_tokens
from pbb.report import instruction_worth, write_report
from pbb.common import UserError
from pbb.runner import (CURRICULA, GATE_CAP, GATE_THRESHOLD, NOT_COMPARED, STAGES, Job, base_checks, cli, grpo_cap,
                        pairs_of, parse_sets, run_jobs, run_stage, stage_overrides, train_args)
from pbb.stats import paired_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRED = {"curriculum", "domain", "split", "mode", "metric", "value", "ci_low", "ci_high", "n", "seed"}
STAGE_CONFIGS = ["pretrain", "pbb_stage1", "pbb_stage2", "retro_stage1", "retro_stage2_sft", "retro_stage2_grpo",
                 "mixture", "ad"]


@pytest.mark.parametrize("name", STAGE_CONFIGS)
def test_no_stage_trains_on_S_eval_exec_or_S_control(name, monkeypatch):
    monkeypatch.setenv("PBB_PRESET", "cpu")
    config, _ = load_config([f"configs/{name}.py"])
    for mixture in config["train_data"] + config["val_data"]:
        assert "S_control" not in mixture
        if mixture.startswith("exec") and "S_eval" in mixture:
            assert name == "ad", f"{name} trains on {mixture}"  # only algorithm distillation sees S_eval executions
    if name not in ("pretrain", "retro_stage2_grpo"):  # every SFT stage replays pretraining documents alike
        assert "pretrain_replay" in config["train_data"]
    if name == "pbb_stage2":
        assert set(config["train_data"]) == {"decl_S_eval", "replay", "pretrain_replay"}
    if name == "retro_stage1":
        assert config["train_data"] == ["decl_S_train_S_eval", "pretrain_replay"]
    if name == "mixture":
        assert config["train_data"] == ["mixture", "pretrain_replay"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """ROOT, holding one micro pretraining stage in ROOT/pretrain. While it is in use, the micro preset is on and
    stages build their corpus under ROOT/corpora, not the repo's."""
    root = tmp_path_factory.mktemp("micro")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PBB_CORPORA", str(root / "corpora"))  # ensure_corpus's default directory, in every process
        mp.setenv("PBB_PRESET", "micro")
        run_stage("configs/pretrain.py", root / "pretrain", None, seed=0)
        yield root


def test_runner_micro_end_to_end_and_reuses_stages(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))  # the corpus is built in tmp_path, not in the repo
    monkeypatch.setenv("PBB_PRESET", "micro")  # pbb.main sets it; put back afterwards
    out = tmp_path / "pbb"
    args = ["--preset", "micro", "--out", str(out), "--samples", "1", "--ad"]
    assert pbb_experiment.main(args) == 0
    assert (tmp_path / "corpora" / "corpus_tiny-s0" / "manifest.json").is_file()
    rows = json.load(open(out / "summary.json"))
    checks = [r for r in rows if r["metric"] == "base_check"]  # the base model's checks (no recall pool in micro)
    composed = any(r["split"] == "S_eval/compose" for r in rows)  # then in-context is checked on the plain families
    assert [r["split"] for r in checks if r["domain"] == "grammars"] == ["S_eval"]
    plain = [s for s in ("S_eval/arith", "S_eval/cipher") if any(r["split"] == s for r in rows)]
    assert [r["split"] for r in checks if r["domain"] == "programs"] == (plain if composed else ["S_eval"])
    assert all(set(r) == REQUIRED | {"checked", "threshold", "passed"} for r in checks)
    main_rows = [r for r in rows if r["curriculum"] != "ad" and "_minus_" not in r["metric"] and r not in checks]
    assert main_rows and all(set(r) == REQUIRED for r in main_rows)
    assert {r["curriculum"] for r in main_rows} == {"pretrain", "mixture", "proactive", "retroactive_sft",
                                                    "retroactive_grpo"}
    assert {r["split"].split("/")[0] for r in main_rows} == {"S_train", "S_eval", "S_control"}
    assert {"S_eval/arith", "S_eval/compose"} <= {r["split"] for r in main_rows}  # corpus_tiny mixes families
    # no recall pool in micro
    assert {r["split"].split("/")[0] for r in main_rows if r["curriculum"] == "pretrain"} == {"S_eval"}
    assert {r["mode"] for r in main_rows} == {"implicit", "cot", "incontext", "incontext_cot"}
    assert ({(r["curriculum"], r["domain"]) for r in main_rows if r["mode"] == "incontext_cot"}
            == {("pretrain", "grammars")})
    assert {r["metric"] for r in main_rows} == {"accuracy", "majority_baseline", "instruction_recall", "validity",
                                                 "distinct", "novelty", "constant_baseline", "cross_grammar_baseline"}
    # each curriculum against the mixture, on the same items
    diffs = [r for r in rows if "_minus_mixture" in r["metric"]]
    assert diffs and all(set(r) == REQUIRED and r["seed"] == 0 and r["ci_low"] <= r["value"] <= r["ci_high"]
                         for r in diffs)
    assert {r["curriculum"] for r in diffs} == {"proactive", "retroactive_sft", "retroactive_grpo"}
    assert {r["metric"] for r in diffs} == {"accuracy_minus_mixture", "validity_minus_mixture"}
    assert len([r for r in diffs if "/" not in r["split"]]) == 3 * 2 * 3 * 3  # curricula x domains x splits x modes
    rl = [r for r in rows if r["metric"].endswith("_minus_retroactive_sft")]  # GRPO against SFT, same stage 1
    assert rl and {r["curriculum"] for r in rl} == {"retroactive_grpo"} and all(set(r) == REQUIRED for r in rl)
    assert {r["split"] for r in diffs} == ({r["split"] for r in main_rows if r["domain"] == "programs"}
                                           | {"S_train", "S_eval", "S_control"})
    ad_rows = [r for r in rows if r["curriculum"] == "ad"]  # the micro corpus has ad_demos = [1, 3, 10]
    assert ad_rows and all(set(r) == REQUIRED | {"demos"} for r in ad_rows)
    assert {r["demos"] for r in ad_rows} == {1, 3, 10}
    assert {r["split"].split("/")[0] for r in ad_rows} == {"S_eval", "S_control"}
    ad_diffs = [r for r in rows if "_minus_proactive" in r["metric"]]  # AD(N) against Proactive, same items
    assert all(r["curriculum"] == "ad" and r["ci_low"] <= r["value"] <= r["ci_high"] for r in ad_diffs)
    assert (len([r for r in ad_diffs if "/" not in r["split"]]) == 3 * 2 * 2 * 2  # N x domains x splits x modes
            and {r["demos"] for r in ad_diffs} == {1, 3, 10})
    assert "| ad N=10 | programs | S_eval | cot | accuracy_minus_proactive |" in (out / "results.md").read_text()
    report = (out / "results.md").read_text()
    assert report.count("\n") > 10 and "| ad N=10 | programs | S_eval | implicit | accuracy |" in report
    assert "One instruction per behaviour" in report or "No signal" in report  # micro models score 0: no signal
    assert "| proactive | programs | S_eval | cot | accuracy_minus_mixture |" in report
    for png in ("results.png", "results_ad.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    stamps = {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    assert len(stamps) == len(STAGES) + 3
    assert (out / "seed0" / "curves.png").read_bytes()[:4] == b"\x89PNG"  # every stage's loss curves
    # the same run one job at a time (AD aside): the same numbers (threads per stage do not follow --jobs)
    assert pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "one"), "--samples", "1",
                                "--jobs", "1"]) == 0
    one = json.load(open(tmp_path / "one" / "summary.json"))
    assert one == [r for r in rows if r["curriculum"] not in ("ad", "ad_uniform") and "demos" not in r]
    # an ablation of one stage: every other stage linked from the finished run, only Proactive stage 2 trained
    capsys.readouterr()
    assert pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "abl"), "--samples", "1", "--from",
                                str(out), "--set", "pbb_stage2.learning_rate=1e-2"]) == 0
    for stage in [s for s, _, _ in STAGES if s != "pbb_stage2"]:
        ckpt = os.path.join("seed0", stage, "ckpt.pt")
        assert os.path.realpath(tmp_path / "abl" / ckpt) == str(out / ckpt), stage
    assert not os.path.islink(tmp_path / "abl" / "seed0" / "pbb_stage2" / "ckpt.pt")
    assert json.load(open(tmp_path / "abl" / "seed0" / "pbb_stage2" / "config.json"))["learning_rate"] == 1e-2
    log = capsys.readouterr().out  # the linked stages' evaluations are theirs: only Proactive stage 2 is evaluated
    assert log.count("[pbb] evaluating") == 1 and "evaluating " + str(tmp_path / "abl") in log and "pbb_stage2" in log
    assert not os.path.islink(tmp_path / "abl" / "seed0" / "pbb_stage2" / "eval.json")
    # RL between Proactive's stages and its SFT control: the four stages train from the linked Proactive stage 1
    assert pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "rl"), "--samples", "1", "--from",
                                str(out), "--proactive-rl", "--set", "pbb_stage2.warmup_iters=3"]) == 0
    rl_dir = tmp_path / "rl" / "seed0"
    assert os.path.realpath(rl_dir / "pbb_stage1" / "ckpt.pt") == str(out / "seed0" / "pbb_stage1" / "ckpt.pt")
    cfg = {s: json.load(open(rl_dir / s / "config.json")) for s in ("pbb_grpo", "pbb_sft", "pbb_grpo_stage2")}
    assert not any(os.path.islink(rl_dir / s / "ckpt.pt") for s in cfg)
    assert cfg["pbb_grpo"]["stage"] == "grpo" and cfg["pbb_sft"]["train_data"] == ["exec_cot_S_train"]
    assert cfg["pbb_grpo"]["init_from"] == cfg["pbb_sft"]["init_from"] == str(rl_dir / "pbb_stage1" / "ckpt.pt")
    assert cfg["pbb_grpo_stage2"]["init_from"] == str(rl_dir / "pbb_grpo" / "ckpt.pt")
    assert cfg["pbb_grpo_stage2"]["warmup_iters"] == 3  # pbb_stage2's overrides follow into the stage 2s after RL/SFT
    assert json.load(open(rl_dir / "pbb_sft_stage2" / "config.json"))["warmup_iters"] == 3
    assert all(cfg["pbb_sft"][k] == cfg["pbb_grpo"][k] for k in ("max_iters", "learning_rate", "min_lr",
                                                                 "warmup_iters"))
    rl_rows = json.load(open(tmp_path / "rl" / "summary.json"))
    assert {"proactive_grpo", "proactive_sft"} <= {r["curriculum"] for r in rl_rows if r["metric"] == "accuracy"}
    rl_diffs = {(r["curriculum"], r["metric"]) for r in rl_rows if r["split"] == "S_eval" and "_minus_" in r["metric"]}
    assert {("proactive_grpo", "accuracy_minus_proactive_sft"), ("proactive_grpo", "accuracy_minus_proactive"),
            ("proactive_sft", "accuracy_minus_proactive")} <= rl_diffs
    assert pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "rl"), "--samples", "1", "--from",
                                str(out), "--proactive-rl", "--set", "pbb_stage2.warmup_iters=3", "--against",
                                str(tmp_path / "rl")]) == 0  # against itself
    against = [r for r in json.load(open(tmp_path / "rl" / "summary.json")) if r["metric"].endswith("_minus_against")]
    assert {"proactive_grpo", "proactive_sft"} <= {r["curriculum"] for r in against}
    assert all((r["value"], r["ci_low"], r["ci_high"]) == (0, 0, 0) for r in against)
    capsys.readouterr()
    # a run against itself: every paired difference is 0
    assert pbb_experiment.main(args + ["--against", str(out)]) == 0
    log = capsys.readouterr().out
    assert "reusing" in log and log.count("eval.json") == len(CURRICULA) + 1 + 3  # + pretrain, AD: nothing re-evaluated
    against = [r for r in json.load(open(out / "summary.json")) if r["metric"].endswith("_minus_against")]
    assert {r["curriculum"] for r in against} == {"pretrain", "mixture", "proactive", "retroactive_sft",
                                                  "retroactive_grpo"}
    assert all((r["value"], r["ci_low"], r["ci_high"]) == (0, 0, 0) and r["against"] == str(out) for r in against)
    assert stamps == {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    before = (out / "summary.json").read_text()
    # one seed: no summary
    assert pbb_experiment.main(["--preset", "micro", "--out", str(out), "--samples", "1", "--seed", "0"]) == 0
    assert "seed 0 done" in capsys.readouterr().out and (out / "summary.json").read_text() == before
    assert stamps == {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    with pytest.raises(SystemExit, match="seed 0 -> 5"):  # a stage trained with another config is not reused
        run_stage("configs/mixture.py", out / "seed0" / "mixture", out / "seed0" / "pretrain", seed=5)
    assert run_stage("configs/mixture.py", str(out / "seed0" / "mixture") + "/", out / "seed0" / "pretrain", seed=0)
    later = os.path.getmtime(out / "seed0" / "mixture" / "ckpt.pt") + 10
    os.utime(out / "seed0" / "pretrain" / "ckpt.pt", (later, later))  # as if pretraining had been redone since
    with pytest.raises(SystemExit, match="trained from an older"):
        run_stage("configs/mixture.py", out / "seed0" / "mixture", out / "seed0" / "pretrain", seed=0)


@pytest.mark.parametrize("override", ["--learning_rate=0.001", "--max_iters=7", "--train_data=pretrain_val"])
def test_reuse_refuses_a_stage_trained_with_another_value_of_a_compared_key(pretrained, override):
    """A key outside NOT_COMPARED that differs from the checkpoint's config: refused, not reused (not only the seed)."""
    key = override[2:].split("=")[0]
    assert key not in NOT_COMPARED
    with pytest.raises(SystemExit, match=r"another config \(" + key + " "):
        run_stage("configs/pretrain.py", pretrained / "pretrain", None, seed=0, extra=(override,))


def test_reuse_refuses_a_stage_trained_on_another_build_of_its_corpus(pretrained, tmp_path):
    """A finished stage whose tokenizer or corpus config is not its corpus's now (rebuilt since): refused in one
    line."""
    import torch
    ckpt = load_checkpoint(str(pretrained / "pretrain" / "ckpt.pt"))
    (tmp_path / "stale").mkdir()
    torch.save({**ckpt, "tokenizer_id": "0" * 16}, tmp_path / "stale" / "ckpt.pt")
    with pytest.raises(SystemExit, match="another build of corpus .* with another tokenizer"):
        run_stage("configs/pretrain.py", tmp_path / "stale", None, seed=0)
    assert ckpt["corpus_config"] == corpus_config(open_data(ckpt["config"])[1])
    torch.save({**ckpt, "corpus_config": {**ckpt["corpus_config"], "decl_rewrites": 3}}, tmp_path / "stale" / "ckpt.pt")
    with pytest.raises(SystemExit, match="its decl_rewrites differ"):  # same tokenizer, corpus rebuilt otherwise
        run_stage("configs/pretrain.py", tmp_path / "stale", None, seed=0)
    older = {k: v for k, v in ckpt["corpus_config"].items() if k != "s_eval_extra"}  # a key added since, at its default
    torch.save({**ckpt, "corpus_config": older}, tmp_path / "stale" / "ckpt.pt")
    assert run_stage("configs/pretrain.py", tmp_path / "stale", None, seed=0) == str(tmp_path / "stale" / "ckpt.pt")


def test_a_pretraining_is_reused_for_a_corpus_with_its_tokenizer_and_pretraining_documents(pretrained, tmp_path,
                                                                                              capsys):
    """A corpus that differs from the pretraining's only after its tokenizer and pretraining documents (s_train_extra)
    reuses the finished pretraining; one whose pretraining documents differ (another corpus_seed) is refused."""
    more = tmp_path / "more.py"
    more.write_text("from configs.corpus_tiny import *\ns_train_extra = 3\n")
    ckpt = pretrained / "pretrain" / "ckpt.pt"
    stamp = os.path.getmtime(ckpt)
    assert run_stage("configs/pretrain.py", pretrained / "pretrain", None, seed=0, extra=(f"--corpus={more}",)) \
        == str(ckpt)
    assert "same tokenizer and pretraining documents" in capsys.readouterr().out and os.path.getmtime(ckpt) == stamp
    with pytest.raises(SystemExit, match=r"another config \(corpus_seed"):
        run_stage("configs/pretrain.py", pretrained / "pretrain", None, seed=0, extra=("--corpus_seed=1",))
    with pytest.raises(SystemExit, match="another config"):  # not for a stage that starts from a checkpoint
        run_stage("configs/pretrain.py", pretrained / "pretrain", pretrained / "pretrain", seed=0,
                  extra=(f"--corpus={more}",))


def test_reuse_ignores_keys_that_may_differ(pretrained, capsys):
    """Keys in NOT_COMPARED (how a stage is run, not what it trains) may differ: the checkpoint is reused untouched."""
    ckpt = pretrained / "pretrain" / "ckpt.pt"
    had, stamp = load_checkpoint(str(ckpt))["config"], os.path.getmtime(ckpt)
    extra = (f"--progress={not had['progress']}".lower(), "--device=cpu")
    assert had["device"] != "cpu" and {"progress", "device"} <= NOT_COMPARED
    assert run_stage("configs/pretrain.py", pretrained / "pretrain", None, seed=0, extra=extra) == str(ckpt)
    assert "reusing" in capsys.readouterr().out and os.path.getmtime(ckpt) == stamp


def test_a_partial_stage_is_resumed_and_ends_as_the_uninterrupted_one(pretrained, tmp_path, capfd):
    """A stage stopped by SIGTERM checkpoints its step; the runner resumes it (init_from=resume) and it ends
    bit-identical to the same stage trained without a stop. With dropout: the random state must carry over too."""
    def stage(name):
        return run_stage("configs/pretrain.py", tmp_path / name, None, seed=0, extra=("--dropout=0.1",))
    stage("whole")
    # the runner's own arguments, in a process whose learning-rate schedule sends the SIGTERM at step 2 (what a SIGTERM
    # runs: train.py's handler)
    argv = train_args("configs/pretrain.py", tmp_path / "cut", "scratch", 0, ("--dropout=0.1",))
    cut = subprocess.run([sys.executable, "-c", "import signal, sys, train\n"
                          "lr = train.get_lr\n"
                          "def at_2(config, step):\n"
                          "    if step == 2:\n"
                          "        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)\n"
                          "    return lr(config, step)\n"
                          "train.get_lr = at_2\n"
                          f"sys.exit(train.main({[str(a) for a in argv]!r}))"],
                         cwd=ROOT, capture_output=True, text=True)
    assert cut.returncode == 143, cut.stderr  # 128 + SIGTERM: stopped after finishing step 2
    assert load_checkpoint(str(tmp_path / "cut" / "ckpt.pt"))["step"] == 3
    assert (f"continue with: python train.py configs/pretrain.py --out_dir={tmp_path / 'cut'} --seed=0 --dropout=0.1 "
            "--init_from=resume\n") in cut.stderr  # the stage's own arguments, not the runner's
    stage("cut")
    assert "steps 3 -> 6" in capfd.readouterr().out
    whole, resumed = (load_checkpoint(str(tmp_path / name / "ckpt.pt")) for name in ("whole", "cut"))
    assert resumed["config"]["init_from"] == "resume" and resumed["step"] == whole["config"]["max_iters"] == 6
    for part in ("model", "optimizer", "data", "rng", "step"):
        assert same(resumed[part], whole[part]), part


def same(a, b):
    """Equal nested checkpoint contents, tensors compared exactly."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def test_report_is_the_mean_and_half_range_over_seeds(tmp_path):
    """--seeds N: one table row per curriculum, domain, split, mode and metric: mean ± (max - min) / 2 over the
    seeds, with seed 0's interval and n. Three seeds, so that the half-range is not also the standard deviation."""
    def row(seed, value, metric="accuracy", ci=(0.0, 1.0)):
        return dict(curriculum="proactive", domain="programs", split="S_eval", mode="implicit", metric=metric,
                    value=value, ci_low=ci[0], ci_high=ci[1], n=18, seed=seed)
    rows = [row(2, 1.0), row(0, 0.0, ci=(0.0, 0.176)), row(1, 0.25), row(0, 0.5, "majority_baseline")]
    write_report(rows, str(tmp_path))
    table = (tmp_path / "results.md").read_text()
    # mean (0 + 0.25 + 1) / 3 = 0.4167, half-range (1 - 0) / 2 = 0.5 (the standard deviation would be 0.425)
    assert "| proactive | programs | S_eval | implicit | accuracy | 0.417 ± 0.500 | [0.000, 0.176] | 18 | 3 |" in table
    assert "| proactive | programs | S_eval | implicit | majority_baseline | 0.500 | [0.000, 1.000] | 18 | 1 |" in table
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_instruction_worth_reads_the_longest_prefix_of_N():
    def row(curriculum, mode, value, demos=None):
        r = dict(curriculum=curriculum, domain="programs", split="S_eval", mode=mode, metric="accuracy", value=value,
                 ci_low=0.0, ci_high=1.0, n=10, seed=0)
        return {**r, "demos": demos} if demos else r
    ad = [row("ad", "implicit", v, n) for n, v in ((1, 0.1), (3, 0.3), (10, 0.2), (30, 0.6))]
    ad += [row("ad", "cot", 0.0, n) for n in (1, 3, 10, 30)]
    assert instruction_worth(ad) is None  # no Proactive rows
    for proactive, expected in ((0.05, "already at N=1"), (0.25, "up to N=1:"), (0.35, "up to N=10:"),
                                (0.7, "at every N tested")):
        line = instruction_worth(ad + [row("proactive", "implicit", 0.0), row("proactive", "cot", proactive)])
        assert expected in line, (proactive, line)
    zeros = [{**r, "value": 0.0} for r in ad] + [row("proactive", "implicit", 0.0)]  # implicit alone suffices
    assert instruction_worth(zeros).startswith("No signal")


def items(scores, behaviours, key="programs.S_eval.cot"):
    return {key: [float(s) for s in scores], key + ".behaviour": behaviours}


def test_paired_difference_and_its_bootstrap_interval():
    import numpy as np
    names = [f"b{i}" for i in range(40) for _ in range(3)]  # 40 behaviours x 3 items
    ones, zeros = items([1] * 120, names), items([0] * 120, names)
    (r,) = paired_rows({0: (ones, zeros)}, "proactive", "mixture")
    assert (r["metric"], r["value"], r["ci_low"], r["ci_high"], r["n"], r["seed"]) == \
           ("accuracy_minus_mixture", 1.0, 1.0, 1.0, 120, 0)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 120), rng.integers(0, 2, 120)
    (r,) = paired_rows({0: (items(a, names), items(b, names))}, "proactive", "mixture")
    per_behaviour = (a - b).reshape(40, 3).mean(1)
    assert r["value"] == pytest.approx((a - b).mean())
    half = 1.959964 * per_behaviour.std() / np.sqrt(40)  # the normal approximation of the cluster bootstrap
    assert (r["ci_high"] - r["ci_low"]) / 2 == pytest.approx(half, rel=0.15)
    two = paired_rows({0: (items(a, names), items(b, names)), 1: (ones, zeros)}, "proactive", "mixture")
    assert [x["seed"] for x in two] == [0, 1, None] and two[2]["seeds"] == [0, 1]
    assert two[2]["value"] == pytest.approx(((a - b).mean() + 1) / 2)
    with pytest.raises(SystemExit, match="other eval items"):
        paired_rows({0: (ones, items([0] * 120, names[::-1]))}, "proactive", "mixture")
    fam = lambda d: {**d, "programs.S_eval/compose.cot": d["programs.S_eval.cot"][:3],
                     "programs.S_eval/compose.cot.behaviour": names[:3]}  # a key only some evaluations have
    rows = paired_rows({0: (fam(ones), fam(zeros)), 1: (ones, fam(zeros))}, "proactive", "mixture")
    assert {x["split"] for x in rows} == {"S_eval"}  # paired only where every seed has both sides


def test_against_a_run_without_every_seed_is_refused_before_training(tmp_path):
    (tmp_path / "other" / "seed0").mkdir(parents=True)
    with pytest.raises(SystemExit, match="has no evaluation of seed0/mixture"):
        pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "pbb"), "--against", str(tmp_path / "other")])
    assert not (tmp_path / "pbb").exists()  # nothing trained


def test_ood_runs_the_uniform_demonstrations_control_on_the_same_items(tmp_path, monkeypatch):
    """--ood with a corpus of ad_uniform_control: AD from skewed and from uniform demonstrations, both from
    Proactive stage 1, and the paired difference uniform minus skewed (accuracy_minus_ad) per N."""
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("PBB_PRESET", "micro")
    cfg = tmp_path / "corpus_tiny_ood.py"
    cfg.write_text(open(os.path.join(os.path.dirname(__file__), "..", "configs", "corpus_tiny.py")).read()
                   + 'domains = ["programs"]\ntrain_input_dist = "skewed"\neval_input_dist = "tail"\n'
                   'ad_demos = [3]\nad_uniform_control = True\n')
    out = tmp_path / "ood"
    assert pbb_experiment.main(["--preset", "micro", "--ood", "--corpus", str(cfg), "--out", str(out)]) == 0
    for stage, mix in (("ad_N3", "exec_S_eval_N3"), ("ad_uniform_N3", "exec_S_eval_uniform_N3")):
        config = json.load(open(out / "seed0" / stage / "config.json"))
        assert config["train_data"] == [mix, "pretrain_replay"] and config["init_from"].endswith("pbb_stage1/ckpt.pt")
    rows = json.load(open(out / "summary.json"))
    assert {r["demos"] for r in rows if r["curriculum"] == "ad_uniform" and r["metric"] == "accuracy"} == {3}
    diffs = [r for r in rows if r["metric"] == "accuracy_minus_ad"]
    assert {(r["curriculum"], r["demos"]) for r in diffs} == {("ad_uniform", 3)}
    assert {(r["split"], r["mode"]) for r in diffs} >= {("S_eval", "implicit"), ("S_eval", "cot")}
    a, b = pairs_of(str(out), "ad_uniform_N3", str(out), "ad_N3", [0])[0]
    d = next(r for r in diffs if (r["split"], r["mode"]) == ("S_eval", "implicit"))
    key = "programs.S_eval.implicit"
    assert d["value"] == pytest.approx(sum(a[key]) / len(a[key]) - sum(b[key]) / len(b[key]))


def test_grpo_cap_covers_the_longest_trace_with_grammars_or_nested_compositions_only(tmp_path, monkeypatch):
    """On a corpus with grammars or nested compositions the runner raises GRPO's completion cap to eval.py's CoT
    budget; plain programs keep configs/retro_stage2_grpo.py's cap (and so the default's GRPO numbers)."""
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("PBB_PRESET", "micro")
    tiny = open(os.path.join(os.path.dirname(__file__), "..", "configs", "corpus_tiny.py")).read()
    nested = 'domains = ["programs"]\nprogram_families = {"arith": 0.5, "compose": 0.5}\ncompose_trace = "nested"'
    for name, lines in (("both", 'domains = ["programs", "grammars"]'), ("nested", nested),
                        ("programs", 'domains = ["programs"]')):
        cfg = tmp_path / f"corpus_{name}.py"
        cfg.write_text(tiny + lines + "\n")
        extra = (f"--corpus={cfg}",)
        manifest = open_data(load_config(["configs/retro_stage2_grpo.py", *extra])[0])[1]
        need = default_max_new_tokens(manifest, "cot")
        got = grpo_cap(manifest, extra)
        if name != "programs":
            assert need > 64 and got == (f"--grpo_max_new_tokens={need}",)
        else:
            assert got == ()


def test_set_targets_one_stage_or_every_curriculum_stage_and_refuses_in_one_line():
    stages = [s for s, _, _ in STAGES]
    sets = parse_sets([r"pbb_stage2.frozen=\.mlp\.", "dropout=0.1", "n_layer=2", "pretrain.max_iters=9"], stages)
    assert stage_overrides(sets, "pbb_stage2") == ["--dropout=0.1", "--n_layer=2", r"--frozen=\.mlp\."]
    assert stage_overrides(sets, "mixture") == ["--dropout=0.1", "--n_layer=2"]
    assert stage_overrides(sets, "pretrain") == ["--n_layer=2", "--max_iters=9"]  # plain keys: the architecture only
    for item, needle in (("pbb_stag2.frozen=x", "did you mean 'pbb_stage2'"), ("pbb_stage2.frozn=x", "'frozn'"),
                         ("seed=3", "'seed'"), ("dropout", "KEY=VALUE")):
        with pytest.raises(SystemExit, match=needle):
            parse_sets([item], stages)


def test_run_jobs_respects_dependencies_runs_side_by_side_and_stops_on_a_failure(tmp_path):
    log = tmp_path / "order"
    script = tmp_path / "job.py"  # sleep, write its name, exit with rc: the runner runs scripts (python SCRIPT ARGS)
    script.write_text("import sys, time\nname, seconds, rc = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])\n"
                      f"time.sleep(seconds)\nopen({str(log)!r}, 'a').write(name + '\\n')\nsys.exit(rc)\n")
    py = lambda name, seconds=0.0, rc=0: [sys.executable, str(script), name, str(seconds), str(rc)]
    job = lambda name, deps, argv: Job(name, deps, lambda: (argv, str(tmp_path / name / "log"), lambda: None))
    run_jobs([job("c", ["a", "b"], py("c")), job("a", [], py("a", 0.5)), job("b", [], py("b"))], n_jobs=2)
    assert log.read_text().split() == ["b", "a", "c"]  # a and b side by side (b done first), c after both
    assert (tmp_path / "a" / "log").exists()  # each job's output in its log
    log.unlink()
    with pytest.raises(SystemExit, match="error: b failed .exit 3.*its log"):
        run_jobs([job("a", [], py("a", 5.0)), job("b", [], py("b", rc=3)), job("c", ["b"], py("c"))], n_jobs=2)
    assert log.read_text().split() == ["b"]  # a was stopped, c never started


@pytest.mark.parametrize("script", ["pbb", "sweep", "internalise", "mechanism", "compare", "tables"])
def test_help_describes_each_experiment_in_whole_sentences(script):
    r = subprocess.run([sys.executable, "-m", f"experiments.{script}", "--help"], cwd=ROOT, capture_output=True,
                       text=True)
    first = __import__(f"experiments.{script}", fromlist=["x"]).__doc__.split("\n\n")[0]
    assert r.returncode == 0 and first.rstrip()[-1] in ".?"
    assert " ".join(first.split()) in " ".join(r.stdout.split())


def test_grammar_gate_extends_pretraining_and_a_failing_base_model_is_flagged(tmp_path, monkeypatch, capsys):
    """The micro model learns nothing: the gate trains both extensions (its cap), the curricula start from the last,
    and the table and summary flag the seed (a deliberately under-trained base model)."""
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("PBB_PRESET", "micro")
    out = tmp_path / "g"
    assert pbb_experiment.main(["--preset", "micro", "--grammars", "--corpus", "configs/corpus_tiny.py", "--out",
                                str(out), "--samples", "1"]) == 0
    root = out / "seed0"
    assert os.path.realpath(root / "base") == str(root / f"pretrain_more{GATE_CAP}")
    for stage in ("mixture", "pbb_stage1", "retro_stage1"):
        assert json.load(open(root / stage / "config.json"))["init_from"] == str(root / "base" / "ckpt.pt")
    rows = json.load(open(out / "summary.json"))
    gate = [r for r in rows if r["metric"] == "gate_validity"]
    assert [r["stage"] for r in gate] == ["pretrain", "pretrain_more1", "pretrain_more2"]
    assert all(r["value"] < GATE_THRESHOLD and r["split"] == "pretrain_val" for r in gate)
    checks = [r for r in rows if r["metric"] == "base_check"]
    assert checks and not all(r["passed"] for r in checks)
    report = (out / "results.md").read_text()
    assert report.startswith("**Flagged: seed 0's base model fails its check") and "| 0 | pretrain_more2 |" in report
    assert "FLAGGED" in capsys.readouterr().out


def test_base_check_of_in_context_execution_skips_compositions():
    """A composition's in-context prompt holds its own source only: with compositions in S_eval the in-context check
    reads the plain families' rows (S_eval/arith), not the whole split's."""
    row = lambda split, mode, value: dict(curriculum="pretrain", domain="programs", split=split, mode=mode,
                                          metric="accuracy", value=value, seed=0)
    plain = [row("S_eval", "incontext", 0.95), row("pretrain_recall_val", "cot", 0.6)]
    assert [(r["split"], r["passed"]) for r in base_checks(plain, 0)] == [("S_eval", True),
                                                                          ("pretrain_recall_val", True)]
    mixed = [row("S_eval", "incontext", 0.55), row("S_eval/arith", "incontext", 0.97),
             row("S_eval/compose", "incontext", 0.1), row("pretrain_recall_val", "cot", 0.4)]
    assert [(r["split"], r["passed"]) for r in base_checks(mixed, 0)] == [("S_eval/arith", True),
                                                                          ("pretrain_recall_val", False)]


def test_paired_rows_pair_every_per_item_score_of_the_same_items():
    """DOMAIN.SPLIT.MODE.METRIC arrays (eval.py's placement of a composition's failure) are paired like the main
    score, named METRIC_minus_REF; an array over some of the items only (chain_input: arith callees) is left out."""
    key = "programs.S_eval/compose.cot"
    items = lambda acc, g: {key: acc, key + ".behaviour": ["f", "f", "k", "k"], key + ".g_restated": g,
                            key + ".chain_input": [1.0, 0.0]}
    rows = paired_rows({0: (items([1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]),
                            items([0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]))}, "proactive", "mixture")
    got = {r["metric"]: round(r["value"], 3) for r in rows}
    assert got == {"accuracy_minus_mixture": 0.5, "g_restated_minus_mixture": 0.5}
    assert all(r["split"] == "S_eval/compose" and r["mode"] == "cot" for r in rows)


def test_a_proactive_rl_stage_set_without_the_flag_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PBB_PRESET", "micro")  # pbb.main sets it; put back afterwards
    with pytest.raises(SystemExit, match=r"--set pbb_grpo\.\* sets a stage of --proactive-rl; pass --proactive-rl too"):
        pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "x"), "--set", "pbb_grpo.grpo_reward=trace"])
    assert not (tmp_path / "x").exists()  # refused before anything ran
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    for stage in ("retro_stage2_grpo", "pbb_grpo"):  # a bad GRPO value: one line, before the GRPO cap reads it
        with pytest.raises(SystemExit, match=f"error: stage {stage}: grpo_reward='bogus' is not one of"):
            pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "x"), "--proactive-rl", "--set",
                                 f"{stage}.grpo_reward=bogus"])
    assert not (tmp_path / "x").exists()
    # a GRPO key on a stage that is not GRPO had no effect, and one on every stage at once fails on the SFT stages:
    # each refused in one line
    with pytest.raises(SystemExit, match=r"error: stage pbb_grpo_stage2: grpo_reward set for a stage with "
                                         r"stage='sft', where GRPO keys have no effect"):
        pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "x"), "--proactive-rl", "--set",
                             "pbb_grpo_stage2.grpo_reward=trace"])
    with pytest.raises(SystemExit, match=r"a GRPO key sets one stage; name it, e\.g\. --set "
                                         r"retro_stage2_grpo\.grpo_kl=0\.1"):
        pbb_experiment.main(["--preset", "micro", "--out", str(tmp_path / "x"), "--set", "grpo_kl=0.1"])
    assert not (tmp_path / "x").exists()


def test_cli_prints_a_refusal_as_one_error_line_and_exits_2(capsys):
    def refuse(error):
        def main():
            raise error
        return main
    line, handler = "no checkpoint at x; train it first", signal.getsignal(signal.SIGTERM)
    try:
        for error in (UserError(line), SystemExit(f"error: {line}")):
            with pytest.raises(SystemExit) as e:
                cli(refuse(error))
            assert e.value.code == 2 and capsys.readouterr().err == f"error: {line}\n"
    finally:
        signal.signal(signal.SIGTERM, handler)  # cli turns SIGTERM into a clean stop
