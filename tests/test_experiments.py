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
    assert pbb.main(["--preset", "micro", "--out", str(out), "--samples", "1"]) == 0
    rows = json.load(open(out / "summary.json"))
    assert rows and all(set(r) == REQUIRED for r in rows)
    assert {r["curriculum"] for r in rows} == {"mixture", "proactive", "retroactive_sft"}
    assert {r["split"] for r in rows} == {"S_train", "S_eval", "S_control"}
    assert {r["mode"] for r in rows} == {"implicit", "cot", "incontext"}
    assert {r["metric"] for r in rows} == {"accuracy", "majority_baseline", "validity", "distinct"}
    assert (out / "results.md").read_text().count("\n") > 10
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    stamps = {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
    assert len(stamps) == len(pbb.STAGES)
    capsys.readouterr()
    assert pbb.main(["--preset", "micro", "--out", str(out), "--samples", "1"]) == 0
    assert "reusing" in capsys.readouterr().out
    assert stamps == {p: os.path.getmtime(p) for p in out.glob("seed0/*/ckpt.pt")}
