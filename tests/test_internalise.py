"""Stepwise CoT internalisation (corpus key cot_internalise, experiments/internalise.py): the drop mixtures are
S_train's CoT executions with the first k trace parts removed, nothing else of the corpus changes (so the
runner's checkpoints train on it), and the experiment runs end to end on the micro preset."""
import json
import os

import pytest

from data import build
from data import templates as T
from data.config import validate
from tests.test_recall_pool import text, tiny_cfg


def test_drop_k_removes_the_restated_source_then_one_trace_line_each_and_keeps_the_answer():
    cfg = tiny_cfg(cot_internalise=[1, 2, 99])
    behs = build.make_behaviours(cfg, 0)
    m = build.make_docs(behs, cfg, 0)
    src = {b.name: b for b in behs}
    full = {(d.segments[0][0], text(d)): d for d in m["exec_cot_S_train"]}
    assert len(m["exec_cot_S_train_drop1"]) == len(m["exec_cot_S_train"]) > 0
    for k in (1, 2, 99):
        for d in m[f"exec_cot_S_train_drop{k}"]:
            prompt, body = d.segments[0][0], d.segments[1][0]
            orig = [o for (p, _), o in full.items()
                    if p == prompt and text(o).endswith(body[body.rindex(T.ANSWER_CUE):])]
            assert orig, "every dropped document is one of exec_cot_S_train's, same prompt and answer"
            trace = orig[0].segments[1][0]
            trace = trace[:trace.rindex(T.ANSWER_CUE)]
            instruction = src[d.name].instruction
            lines = trace[len(instruction):].split("\n")
            assert trace.startswith(instruction)  # the default restates the source
            assert body[:body.rindex(T.ANSWER_CUE)] == "\n".join(lines[k - 1:])
            assert d.segments[1][1] == 1.0 and d.segments[0][1] == 0.0
    assert all(d.segments[1][0].startswith(T.ANSWER_CUE) for d in m["exec_cot_S_train_drop99"])  # empty trace


def test_drop_mixtures_leave_the_tokenizer_pretraining_and_eval_items_as_they_were(tmp_path):
    dirs = [build.build(tiny_cfg(cot_internalise=ks), "t", str(tmp_path / str(len(ks))), 0) for ks in ([], [1, 99])]
    a, b = (json.load(open(os.path.join(d, "manifest.json"))) for d in dirs)
    differ = {f for f in set(a["files"]) | set(b["files"]) if a["files"].get(f) != b["files"].get(f)}
    assert differ and all("_drop" in f for f in differ)  # only the new mixtures' files
    assert "exec_cot_S_train_drop99" in b["mixtures"] and "exec_cot_S_train_drop1" not in a["mixtures"]


def test_bad_cot_internalise_is_one_line():
    with pytest.raises(ValueError, match="cot_internalise values must be >= 1"):
        validate(dict(cot_internalise=[0]))


def test_internalise_micro_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("PBB_PRESET", "micro")
    from experiments import internalise
    out, run = tmp_path / "int", tmp_path / "run"
    assert internalise.main(["--preset", "micro", "--run", str(run), "--out", str(out), "--drops", "1,99"]) == 0
    rows = json.load(open(out / "summary.json"))
    names = {r["curriculum"] for r in rows}
    assert names == {"proactive_internalised", "internalised_stage1", "proactive", "proactive_stage1"}
    diffs = {(r["curriculum"], r["split"], r["mode"]) for r in rows if r["metric"] == "accuracy_minus_proactive"}
    assert (("proactive_internalised", "S_eval", "implicit") in diffs
            and ("internalised_stage1", "S_train", "cot") in diffs)
    s2 = json.load(open(out / "seed0" / "internalise_stage2" / "config.json"))
    assert s2["init_from"] == str(out / "seed0" / "internalise_drop99" / "ckpt.pt")
    assert s2["train_data"] == ["decl_S_eval", "exec_S_train", "exec_cot_S_train_drop99", "pretrain_replay"]
    d1 = json.load(open(out / "seed0" / "internalise_drop1" / "config.json"))
    assert (d1["init_from"] == str(run / "seed0" / "pbb_stage1" / "ckpt.pt")
            and "exec_cot_S_train_drop1" in d1["train_data"])
    assert (out / "results.md").exists()
