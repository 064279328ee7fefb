"""experiments/compare.py: two runs paired on the same eval items, on hand-made per-item scores."""
import json
import os

import pytest

from experiments import compare

ITEMS = ["f", "f", "g", "g", "h", "h"]  # three behaviours, two items each


def write_run(root, seeds, scores, stage="pbb_stage2", files="a" * 64, behaviours=ITEMS, s_train=ITEMS):
    for seed in seeds:
        d = root / f"seed{seed}" / stage
        d.mkdir(parents=True)
        items = {"programs.S_eval.cot": scores[seed], "programs.S_eval.cot.behaviour": behaviours,
                 "programs.S_train.cot": [1] * len(s_train), "programs.S_train.cot.behaviour": s_train,
                 "_files": {"programs.S_eval.cot": files, "programs.S_train.cot": "c" * 64 + str(len(s_train))}}
        (d / "eval_items.json").write_text(json.dumps(items))
    return str(root)


def rows_of(out):
    return json.load(open(os.path.join(out, "compare.json")))


def test_two_copies_of_a_run_differ_by_zero_with_zero_width(tmp_path):
    scores = {0: [1, 0, 1, 1, 0, 0], 1: [0, 0, 1, 0, 1, 1]}
    a, b = write_run(tmp_path / "a", [0, 1], scores), write_run(tmp_path / "b", [0, 1], scores)
    assert compare.main([a, b, "--out", str(tmp_path / "out")]) == 0
    r = [r for r in rows_of(tmp_path / "out") if r["split"] == "S_eval"][0]
    assert (r["curriculum"], r["split"], r["mode"], r["seeds"]) == ("proactive", "S_eval", "cot", [0, 1])
    assert (r["value"], r["ci_low"], r["ci_high"]) == (0, 0, 0)


def test_a_known_difference_is_the_mean_per_item_difference(tmp_path):
    a = write_run(tmp_path / "a", [0], {0: [1, 1, 1, 1, 0, 0]})
    b = write_run(tmp_path / "b", [0], {0: [0, 0, 1, 1, 0, 0]})
    assert compare.main([a, b, "--out", str(tmp_path / "out")]) == 0
    r = [r for r in rows_of(tmp_path / "out") if r["split"] == "S_eval"][0]
    assert r["value"] == pytest.approx(2 / 6) and r["metric"] == "accuracy_minus_b"
    assert (r["mean_a"], r["mean_b"]) == (pytest.approx(4 / 6), pytest.approx(2 / 6))
    assert r["ci_low"] <= r["value"] <= r["ci_high"] and r["ci_high"] - r["ci_low"] > 0  # behaviours resampled
    table = (tmp_path / "out" / "compare.md").read_text()
    assert "| proactive | programs | S_eval | cot | 0.667 | 0.333 | +0.333 [" in table


@pytest.mark.parametrize("other", [dict(files="b" * 64), dict(behaviours=["f", "f", "g", "g", "k", "k"])])
def test_runs_on_other_eval_items_are_refused_in_one_line(tmp_path, other):
    a = write_run(tmp_path / "a", [0], {0: [1] * 6})
    b = write_run(tmp_path / "b", [0], {0: [1] * 6}, **other)
    with pytest.raises(SystemExit, match="error: programs.S_eval.cot holds other eval items"):
        compare.main([a, b, "--out", str(tmp_path / "out")])


def test_only_the_splits_asked_for_must_hold_the_same_items(tmp_path):
    """A run with more S_train behaviours (corpus key s_train_extra) pairs with the default on S_eval."""
    a = write_run(tmp_path / "a", [0], {0: [1, 1, 1, 1, 0, 0]}, s_train=ITEMS + ["k", "k"])
    b = write_run(tmp_path / "b", [0], {0: [0, 0, 1, 1, 0, 0]})
    with pytest.raises(SystemExit, match="error: programs.S_train.cot holds other eval items"):
        compare.main([a, b, "--out", str(tmp_path / "out")])
    assert compare.main([a, b, "--out", str(tmp_path / "out"), "--splits", "S_eval"]) == 0
    (r,) = rows_of(tmp_path / "out")
    assert (r["split"], r["value"]) == ("S_eval", pytest.approx(2 / 6))


def test_refusals(tmp_path):
    a = write_run(tmp_path / "a", [0], {0: [1] * 6})
    with pytest.raises(SystemExit, match="does not exist"):
        compare.main([a, str(tmp_path / "nothing")])
    b = write_run(tmp_path / "b", [3], {3: [1] * 6})
    with pytest.raises(SystemExit, match="no seed in common"):
        compare.main([a, b])
    with pytest.raises(SystemExit, match="not one of each"):
        compare.main([a, os.path.join(a, "seed0", "pbb_stage2", "eval_items.json")])
