"""The experiment runner on the micro preset, end to end, and the wiring of every curriculum's configs."""
import json
import os

import pytest

import train
from experiments import pbb

REQUIRED = {"curriculum", "domain", "split", "mode", "metric", "value", "ci_low", "ci_high", "n", "seed"}
STAGE_CONFIGS = ["pretrain", "pbb_stage1", "pbb_stage2", "retro_stage1", "retro_stage2_sft", "retro_stage2_grpo",
                 "mixture", "ad"]


@pytest.mark.parametrize("name", STAGE_CONFIGS)
def test_no_stage_trains_on_S_eval_exec_or_S_control(name, monkeypatch):
    monkeypatch.setenv("PBB_PRESET", "cpu")
    config, _ = train.load_config([f"configs/{name}.py"])
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


def test_runner_micro_end_to_end_and_reuses_stages(tmp_path, capsys):
    out = tmp_path / "pbb"
    args = ["--preset", "micro", "--out", str(out), "--samples", "1", "--ad"]
    assert pbb.main(args) == 0
    rows = json.load(open(out / "summary.json"))
    main_rows = [r for r in rows if r["curriculum"] != "ad"]
    assert main_rows and all(set(r) == REQUIRED for r in main_rows)
    assert {r["curriculum"] for r in main_rows} == {"mixture", "proactive", "retroactive_sft"}
    assert {r["split"] for r in main_rows} == {"S_train", "S_eval", "S_control"}
    assert {r["mode"] for r in main_rows} == {"implicit", "cot", "incontext"}
    assert {r["metric"] for r in main_rows} == {"accuracy", "majority_baseline", "instruction_recall", "validity",
                                                 "distinct"}
    ad_rows = [r for r in rows if r["curriculum"] == "ad"]  # the micro corpus has ad_demos = [1, 3, 10]
    assert ad_rows and all(set(r) == REQUIRED | {"demos"} for r in ad_rows)
    assert {r["demos"] for r in ad_rows} == {1, 3, 10}
    assert {r["split"] for r in ad_rows} == {"S_eval", "S_control"}
    report = (out / "results.md").read_text()
    assert report.count("\n") > 10 and "| ad N=10 | programs | S_eval | implicit | accuracy |" in report
    assert "One instruction per behaviour" in report or "No signal" in report  # micro models score 0: no signal
    for png in ("results.png", "results_ad.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    stamps = {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    assert len(stamps) == len(pbb.STAGES) + 3
    capsys.readouterr()
    assert pbb.main(args) == 0
    assert "reusing" in capsys.readouterr().out
    assert stamps == {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    with pytest.raises(SystemExit, match="seed 0 -> 5"):  # a stage trained with another config is not reused
        pbb.run_stage("configs/mixture.py", out / "seed0" / "mixture", out / "seed0" / "pretrain", seed=5)
    assert pbb.run_stage("configs/mixture.py", str(out / "seed0" / "mixture") + "/", out / "seed0" / "pretrain", seed=0)
    later = os.path.getmtime(out / "seed0" / "mixture" / "ckpt.pt") + 10
    os.utime(out / "seed0" / "pretrain" / "ckpt.pt", (later, later))  # as if pretraining had been redone since
    with pytest.raises(SystemExit, match="trained from an older"):
        pbb.run_stage("configs/mixture.py", out / "seed0" / "mixture", out / "seed0" / "pretrain", seed=0)


def test_instruction_worth_reads_the_longest_prefix_of_N():
    def row(curriculum, mode, value, demos=None):
        r = dict(curriculum=curriculum, domain="programs", split="S_eval", mode=mode, metric="accuracy", value=value,
                 ci_low=0.0, ci_high=1.0, n=10, seed=0)
        return {**r, "demos": demos} if demos else r
    ad = [row("ad", "implicit", v, n) for n, v in ((1, 0.1), (3, 0.3), (10, 0.2), (30, 0.6))]
    ad += [row("ad", "cot", 0.0, n) for n in (1, 3, 10, 30)]
    assert pbb.instruction_worth(ad) is None  # no Proactive rows
    for proactive, expected in ((0.05, "already at N=1"), (0.25, "up to N=1:"), (0.35, "up to N=10:"),
                                (0.7, "at every N tested")):
        line = pbb.instruction_worth(ad + [row("proactive", "implicit", 0.0), row("proactive", "cot", proactive)])
        assert expected in line, (proactive, line)
    zeros = [{**r, "value": 0.0} for r in ad] + [row("proactive", "implicit", 0.0)]  # implicit alone suffices
    assert pbb.instruction_worth(zeros).startswith("No signal")
