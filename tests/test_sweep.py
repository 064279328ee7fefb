"""experiments/sweep.py on the micro preset: a grid of stage knobs end to end, a corpus knob whose pretraining is
shared or not, and the one-line refusal of an unknown knob."""
import itertools
import json
import os
import subprocess
import sys

import pytest

from data import build
from data.config import DEFAULTS as CORPUS_DEFAULTS
from data.config import load_config as load_corpus_config
from data.config import validate
from experiments import sweep
from pbb.batches import open_data
from pbb.config import load_config

REQUIRED = {"curriculum", "domain", "split", "mode", "metric", "value", "ci_low", "ci_high", "n", "seed", "knobs"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def micro(tmp_path, monkeypatch):
    """Corpora built under tmp_path/corpora, not the repo's; the micro preset on (sweep.main sets it: put back)."""
    monkeypatch.setenv("PBB_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("PBB_PRESET", "micro")
    return tmp_path


def config_of(out, cell, stage, seed=0):
    with open(os.path.join(out, f"cell{cell}", f"seed{seed}", stage, "config.json")) as f:
        return json.load(f)


def test_micro_sweep_end_to_end_pairs_each_cell_and_reuses_stages(micro, capsys):
    out = micro / "sweep"
    args = ["configs/sweep_micro.py", "--preset", "micro", "--out", str(out), "--samples", "1"]
    assert sweep.main(args) == 0
    log = capsys.readouterr().out
    lrs = [5e-4, 1e-3]  # configs/sweep_micro.py
    assert log.count("pretraining shared with the preset's") == 2
    assert "| 0 | 0.0005 | shared |" in log and "| 1 | 0.001 | shared |" in log
    rows = json.load(open(out / "sweep.json"))
    assert rows and all(set(r) == REQUIRED for r in rows)
    assert (sorted({r["knobs"]["learning_rate"] for r in rows}) == lrs
            and all(list(r["knobs"]) == ["learning_rate"] for r in rows))
    assert {r["curriculum"] for r in rows} == {"mixture", "proactive"}
    diffs = [r for r in rows if "_minus_" in r["metric"]]
    assert {r["metric"] for r in diffs} == {"accuracy_minus_mixture", "validity_minus_mixture"}
    assert (len([r for r in diffs if "/" not in r["split"]]) == 2 * 2 * 3 * 3
            and all(r["curriculum"] == "proactive" and r["seed"] == 0 for r in diffs))
    assert (out / "heatmap_proactive.png").read_bytes()[:4] == b"\x89PNG" and not (out / "heatmap_mixture.png").exists()
    # each cell's stages ran with its knob value, from the one shared pretraining; only the stages these curricula need
    for i, lr in enumerate(lrs):
        for stage in ("mixture", "pbb_stage1", "pbb_stage2"):
            assert config_of(out, i, stage)["learning_rate"] == lr
        for stage in ("mixture", "pbb_stage1"):
            assert config_of(out, i, stage)["init_from"] == str(out / "seed0" / "pretrain" / "ckpt.pt")
        assert sorted(os.listdir(out / f"cell{i}" / "seed0")) == ["mixture", "pbb_stage1", "pbb_stage2"]
    # The pairing is per cell and item by item: mark cell 0's mixture right and cell 1's proactive right on every
    # programs S_eval CoT item (the micro models score 0 everywhere), then rerun with a second seed.
    for i, stage in ((0, "mixture"), (1, "pbb_stage2")):
        d = out / f"cell{i}" / "seed0" / stage
        items = json.load(open(d / "eval_items.json"))
        items["programs.S_eval.cot"] = [1.0] * len(items["programs.S_eval.cot"])
        json.dump(items, open(d / "eval_items.json", "w"))
        later = os.path.getmtime(d / "eval_items.json") + 1
        os.utime(d / "eval.args.json", (later, later))  # the evaluation stays reusable
    stamps = {p: os.path.getmtime(p) for p in out.glob("**/seed0/**/ckpt.pt")}
    assert len(stamps) == 1 + 2 * 3
    assert sweep.main(args + ["--seeds", "2"]) == 0
    log = capsys.readouterr().out
    assert stamps == {p: os.path.getmtime(p) for p in out.glob("**/seed0/**/ckpt.pt")}
    assert "seed0" not in "".join(l for l in log.splitlines() if l.startswith("[pbb] training"))
    assert log.count("[pbb] reusing") == 1 + 2 * 3 + 2 * 2  # seed 0: pretraining; 3 stages, 2 evaluations per cell
    rows = json.load(open(out / "sweep.json"))
    cot = {(r["knobs"]["learning_rate"], r["seed"]): r for r in rows
           if (r["domain"], r["split"], r["mode"], r["metric"]) == ("programs", "S_eval", "cot",
                                                                    "accuracy_minus_mixture")}
    assert set(cot) == {(lr, s) for lr in lrs for s in (0, 1, None)}
    assert (cot[5e-4, 0]["value"], cot[5e-4, 0]["ci_low"], cot[5e-4, 0]["ci_high"]) == (-1.0, -1.0, -1.0)
    assert (cot[1e-3, 0]["value"], cot[1e-3, 0]["ci_low"], cot[1e-3, 0]["ci_high"]) == (1.0, 1.0, 1.0)
    assert cot[1e-3, 1]["value"] == 0.0 and cot[1e-3, None]["value"] == 0.5 and cot[1e-3, None]["seeds"] == [0, 1]
    assert cot[1e-3, None]["ci_low"] <= 0.5 <= cot[1e-3, None]["ci_high"]
    assert ("| 0 | 0.0005 | shared | 0.000 | 0.000 | -0.500 [" in log
            and "| 1 | 0.001 | shared | 0.000 | 0.000 | +0.500 [" in log)


def test_corpus_knob_shares_pretraining_only_with_the_same_tokenizer_and_pretraining_documents(micro, capsys):
    """replay_fraction changes only the `replay` mixture: the cell starts from the preset's pretraining. decl_docs
    changes the documents the tokenizer is trained on: that cell pretrains its own."""
    cfg, out = micro / "sweep_corpus.py", micro / "sweep"
    cfg.write_text('grid = {"replay_fraction": [0.5], "decl_docs": [8, 4]}\ncurricula = ["mixture"]\n')
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(out), "--samples", "1"]) == 0
    log = capsys.readouterr().out
    assert "cell 0 (replay_fraction=0.5, decl_docs=8): pretraining shared with the preset's" in log
    assert ("cell 1 (replay_fraction=0.5, decl_docs=4): pretrains its own "
            "(its corpus differs in tokenizer.tiktoken" in log)
    # independently of the sweep's own check: the manifests of the corpora the cells trained on
    manifest = lambda d: json.load(open(os.path.join(d, "manifest.json")))
    base, cells = (manifest(micro / "corpora" / "corpus_tiny-s0"),
                   [manifest(out / "corpora" / f"cell_{i}") for i in (0, 1)])
    for m, decl in zip(cells, (8, 4)):
        assert (m["config"]["replay_fraction"], m["config"]["decl_docs"]) == (0.5, decl)
    assert cells[0]["mixtures"]["replay"]["docs"] > base["mixtures"]["replay"]["docs"]
    for f in ("tokenizer.tiktoken", "pretrain.tokens.npy", "pretrain.weights.npy", "pretrain.offsets.npy"):
        assert cells[0]["files"][f] == base["files"][f]
    assert cells[1]["files"]["tokenizer.tiktoken"] != base["files"]["tokenizer.tiktoken"]
    shared, own = config_of(out, 0, "mixture"), config_of(out, 1, "mixture")
    assert shared["init_from"] == str(out / "seed0" / "pretrain" / "ckpt.pt")
    assert own["init_from"] == str(out / "cell1" / "seed0" / "pretrain" / "ckpt.pt")
    assert config_of(out, 1, "pretrain")["data_dir"] == own["data_dir"] == str(out / "corpora" / "cell_1")
    assert shared["data_dir"] == str(out / "corpora" / "cell_0") and shared["corpus"].endswith("cell_0.py")
    assert not (out / "cell0" / "seed0" / "pretrain").exists()
    rows = json.load(open(out / "sweep.json"))
    assert {r["curriculum"] for r in rows} == {"mixture"} and all(set(r) == REQUIRED for r in rows)
    assert {(r["knobs"]["replay_fraction"], r["knobs"]["decl_docs"]) for r in rows} == {(0.5, 8), (0.5, 4)}


def test_cells_whose_corpora_differ_after_the_pretraining_documents_share_one_pretraining(micro, capsys):
    """decl_docs changes the tokenizer's documents, so both cells pretrain away from the preset's; s_train_extra does
    not change them, so the second cell starts from the first cell's own pretraining."""
    cfg, out = micro / "sweep_corpus.py", micro / "sweep"
    cfg.write_text('grid = {"decl_docs": [4], "s_train_extra": [0, 2]}\ncurricula = ["mixture"]\n')
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(out), "--samples", "1"]) == 0
    log = capsys.readouterr().out
    assert "cell 0 (decl_docs=4, s_train_extra=0): pretrains its own" in log
    assert "cell 1 (decl_docs=4, s_train_extra=2): starts from cell 0's own pretraining" in log
    assert config_of(out, 1, "mixture")["init_from"] == str(out / "cell0" / "seed0" / "pretrain" / "ckpt.pt")
    assert not (out / "cell1" / "seed0" / "pretrain").exists()
    alone = micro / "alone"  # cell 1 alone trains cell 0's pretraining, on cell 0's corpus, and nothing else of cell 0
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(alone), "--samples", "1", "--cell", "1"]) == 0
    assert config_of(alone, 1, "mixture")["init_from"] == str(alone / "cell0" / "seed0" / "pretrain" / "ckpt.pt")
    assert config_of(alone, 0, "pretrain")["data_dir"] == str(alone / "corpora" / "cell_0")
    assert os.listdir(alone / "cell0" / "seed0") == ["pretrain"]


def test_a_pretraining_linked_by_hand_is_reused_and_named_in_the_summary(micro, capsys):
    """A seed's pretraining directory linked to another run's (same config and corpus) is reused, and the summary
    table says where it points instead of calling it the sweep's own."""
    cfg = micro / "sweep_lr.py"
    cfg.write_text('grid = {"learning_rate": [1e-3]}\ncurricula = ["mixture"]\n')
    first, second = micro / "first", micro / "second"
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(first), "--samples", "1"]) == 0
    os.makedirs(second / "seed0")
    os.symlink(first / "seed0" / "pretrain", second / "seed0" / "pretrain")
    capsys.readouterr()
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(second), "--samples", "1"]) == 0
    log = capsys.readouterr().out
    assert "[pbb] training configs/pretrain.py" not in log
    assert f"| 0 | 0.001 | shared (linked to {first / 'seed*' / 'pretrain'}) |" in log
    assert "| 0 | 0.001 | shared |" in (first / "sweep.md").read_text()


@pytest.mark.parametrize("grid, close", [('{"learning_rat": [1e-3]}', "learning_rate"),
                                         ('{"decl_doc": [4]}', "decl_docs")])
def test_unknown_knob_is_refused_in_one_line_naming_the_closest_key(micro, grid, close):
    cfg, out = micro / "sweep_typo.py", micro / "sweep"
    cfg.write_text(f'grid = {grid}\ncurricula = ["proactive"]\n')
    with pytest.raises(SystemExit, match=f"did you mean '{close}'"):
        sweep.main([str(cfg), "--preset", "micro", "--out", str(out)])
    p = subprocess.run([sys.executable, "-m", "experiments.sweep", str(cfg), "--preset", "micro", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("error: unknown knob") and f"'{close}'" in p.stderr
    assert not out.exists() and not (micro / "corpora").exists()  # refused before anything ran


@pytest.mark.parametrize("grid", ['{"learning_rate": ["fast"]}', '{"decl_docs": ["many"]}'])
def test_a_bad_knob_value_is_refused_before_anything_trains(micro, grid):
    cfg, out = micro / "sweep_bad.py", micro / "sweep"
    cfg.write_text(f"grid = {grid}\n")
    with pytest.raises(SystemExit, match=r"^error: cell 0 \("):
        sweep.main([str(cfg), "--preset", "micro", "--out", str(out)])
    assert not (out / "seed0").exists() and not (micro / "corpora").exists()


def test_a_corpus_knob_at_the_presets_value_trains_on_the_presets_corpus(micro, capsys):
    cfg, out = micro / "sweep_same.py", micro / "sweep"
    cfg.write_text('grid = {"decl_docs": [8]}\ncurricula = ["mixture"]\n')  # configs/corpus_tiny.py has decl_docs = 8
    assert sweep.main([str(cfg), "--preset", "micro", "--out", str(out), "--samples", "1"]) == 0
    assert "pretraining shared with the preset's" in capsys.readouterr().out
    assert config_of(out, 0, "mixture")["corpus"] == "configs/corpus_tiny.py" and not (out / "corpora").exists()


def test_exec_ratio_weights_the_mixtures_executions_and_keeps_the_declarations_exposure(micro):
    """exec_ratio r: the mixture stage draws S_train's executions r times as often per declaration as the corpus
    holds them, for as many steps as show every declaration as often (r = 1: the mixture's own length); only the
    mixture changes; bad values and the combination with mixing_ratio are refused."""
    from data.format import open_corpus
    m = open_corpus(build.ensure_corpus("configs/corpus_tiny.py", str(micro / "tiny")))
    mix = m["mixtures"]
    plain = mix["mixture"]["tokens"] + mix["pretrain_replay"]["tokens"]
    executions = mix["exec_S_train"]["tokens"] + mix["exec_cot_S_train"]["tokens"]
    assert mix["decl_S_train_S_eval"]["tokens"] + executions == mix["mixture"]["tokens"]
    steps = load_config(["configs/mixture.py"])[0]["max_iters"]
    for r in (1, 4, 0.5):
        got = dict(a[2:].split("=", 1) for a in sweep.stage_args({"exec_ratio": r}, "mixture", [], m))
        assert got["train_data"] == "decl_S_train_S_eval,exec_S_train,exec_cot_S_train,pretrain_replay"
        assert json.loads(got["train_weights"]) == [mix["decl_S_train_S_eval"]["docs"], mix["exec_S_train"]["docs"] * r,
                                                    mix["exec_cot_S_train"]["docs"] * r, mix["pretrain_replay"]["docs"]]
        assert int(got["max_iters"]) == max(1, round(steps * (plain + (r - 1) * executions) / plain))
        assert sweep.stage_args({"exec_ratio": r}, "pbb_stage1", [], m) == []
    assert int(got["max_iters"]) < steps
    for grid, msg in (('{"exec_ratio": [0]}', "must be positive numbers"),
                      ('{"exec_ratio": [2], "mixing_ratio": [0.1]}', "cannot be combined with mixing_ratio"),
                      ('{"exec_ratio": [2], "stage_steps": [280]}', "cannot be combined with stage_steps"),
                      ('{"grpo_kl": [0.1]}', "is a GRPO key: name its stage, e.g. retro_stage2_grpo.grpo_kl")):
        (micro / "sweep_bad.py").write_text(f"grid = {grid}\n")
        with pytest.raises(SystemExit, match=msg):
            sweep.main([str(micro / "sweep_bad.py"), "--preset", "micro", "--out", str(micro / "sweep")])


def test_mixing_ratio_sets_the_mixture_only_and_links_the_shared_proactive_stages(micro, capsys):
    cfg, out = micro / "sweep_mix.py", micro / "sweep"
    cfg.write_text('grid = {"mixing_ratio": [0.3, 0.1]}\ncurricula = ["proactive"]\n')
    args = [str(cfg), "--preset", "micro", "--out", str(out), "--samples", "1"]
    assert sweep.main(args + ["--seed", "0"]) == 0  # one seed, no summary
    assert "seed 0 done" in capsys.readouterr().out and not (out / "sweep.json").exists()
    pre = json.load(open(out / "seed0" / "pretrain" / "config.json"))  # the preset's corpus, as trained on
    from data.format import open_corpus
    m = open_corpus(open_data(pre)[0])
    for i, ratio in enumerate([0.3, 0.1]):
        mix = config_of(out, i, "mixture")
        want = dict(a[2:].split("=", 1) for a in sweep.mixing_args(ratio, [], m))
        assert mix["train_data"] == ["decl_S_eval", "decl_exec_S_train", "pretrain_replay"]
        assert mix["max_iters"] == int(want["max_iters"]) and mix["train_weights"][0] == ratio
        seen = json.loads(open(out / f"cell{i}" / "seed0" / "mixture"
                               / "metrics.jsonl").read().splitlines()[-1])["docs_seen"]
        assert seen["decl_S_eval"] > 0
    assert config_of(out, 1, "mixture")["max_iters"] > config_of(out, 0, "mixture")["max_iters"]  # rarer: longer
    for stage in ("pbb_stage1", "pbb_stage2"):  # Proactive is the same in both cells: trained once, linked
        assert os.path.islink(out / "cell1" / "seed0" / stage) and not os.path.islink(out / "cell0" / "seed0" / stage)
    assert sweep.main(args) == 0  # collects: everything reused
    log = capsys.readouterr().out
    assert "[pbb] training" not in log and "| 1 | 0.1 | shared |" in log
    rows = json.load(open(out / "sweep.json"))
    assert {r["knobs"]["mixing_ratio"] for r in rows if r["metric"] == "accuracy_minus_mixture"} == {0.3, 0.1}


def test_mixing_ratio_outside_0_1_is_refused(micro):
    cfg = micro / "sweep_mix.py"
    cfg.write_text('grid = {"mixing_ratio": [0.3, 1.5]}\n')
    with pytest.raises(SystemExit, match="mixing_ratio values .* between 0 and 1"):
        sweep.main([str(cfg), "--preset", "micro", "--out", str(micro / "sweep")])


def test_stage2_steps_sets_proactive_stage2_and_the_exposures_a_mixture_is_matched_to(micro):
    from data.format import open_corpus
    m = open_corpus(build.ensure_corpus(os.path.join(REPO, "configs", "corpus_tiny.py"), str(micro / "tiny")))
    steps = lambda cell: int(next(a for a in reversed(sweep.stage_args(cell, "mixture", [], m))
                                  if a.startswith("--max_iters="))[12:])
    assert sweep.stage_args({"stage2_steps": 40}, "pbb_stage2", [], m)[:1] == ["--max_iters=40"]
    for stage in ("pbb_stage1", "mixture"):  # only Proactive stage 2 changes, and the mixture when it is matched
        assert sweep.stage_args({"stage2_steps": 40}, stage, [], m) == []
    short, long = steps({"mixing_ratio": 0.1, "stage2_steps": 40}), steps({"mixing_ratio": 0.1, "stage2_steps": 120})
    assert abs(long - 3 * short) <= 3  # three times the exposures: three times the steps (each rounded)
    for bad in ("[0]", "[1.5]", "[True]"):
        (micro / "sweep_s2.py").write_text(f'grid = {{"stage2_steps": {bad}}}\n')
        with pytest.raises(SystemExit, match="stage2_steps values .* positive integers"):
            sweep.load_sweep(str(micro / "sweep_s2.py"))


def test_stage_steps_scales_every_stage_so_the_mixture_stays_twice_a_stage(micro):
    length = lambda cell, stage, args=(): load_config(
        [sweep.STAGE_CONFIG[stage], *sweep.stage_args(cell, stage, list(args), None)])[0]["max_iters"]
    unit = length({}, "pbb_stage1")  # the micro preset's stage
    for stage in ("pbb_stage1", "pbb_stage2", "retro_stage1", "retro_stage2_sft"):
        assert length({"stage_steps": 3 * unit}, stage) == 3 * unit
    assert length({}, "mixture") == 2 * unit and length({"stage_steps": 3 * unit}, "mixture") == 6 * unit
    assert length({"stage_steps": 3 * unit, "batch_size": 2}, "mixture", ["--batch_size=2"]) == 6 * unit
    assert length({"stage_steps": 3 * unit}, "retro_stage2_grpo") == 3 * length({}, "retro_stage2_grpo")
    for other in ("max_iters", "stage2_steps"):  # would unmatch the curricula' steps
        (micro / "sweep_ss.py").write_text(f'grid = {{"stage_steps": [8], "{other}": [5]}}\n')
        with pytest.raises(SystemExit, match=f"cannot be combined with {other}"):
            sweep.load_sweep(str(micro / "sweep_ss.py"))
    assert "--eval_interval" not in " ".join(sweep.stage_args({"stage_steps": 8}, "retro_stage2_sft", [], None))
    (micro / "sweep_ss.py").write_text('grid = {"stage_steps": [0]}\n')
    with pytest.raises(SystemExit, match="stage_steps values .* positive integers"):
        sweep.load_sweep(str(micro / "sweep_ss.py"))


def test_a_stage_knob_sets_one_stage_only_and_an_unknown_stage_is_refused(micro):
    knobs = {"pbb_stage2.learning_rate": 0.01, "dropout": 0.1}
    assert sweep.targeted(knobs, "pbb_stage2") == ["--learning_rate=0.01"]
    assert sweep.targeted(knobs, "mixture") == [] and sweep.targeted(knobs, "pretrain") == []
    args, pre = sweep.cell_args(knobs, str(micro / "sweep_t"), "configs/corpus_tiny.py", 0)
    assert args == ["--dropout=0.1"] and pre == []  # not a corpus key: no corpus of its own
    cfg = micro / "sweep_stage.py"
    cfg.write_text('grid = {"pbb_stag2.learning_rate": [0.01]}\n')
    with pytest.raises(SystemExit, match="no stage 'pbb_stag2'; did you mean 'pbb_stage2'"):
        sweep.load_sweep(str(cfg))
    cfg.write_text('grid = {"pbb_stage2.frozen": ["zzz"]}\ncurricula = ["proactive"]\n')
    with pytest.raises(SystemExit, match=r"^error: cell 0 .*frozen='zzz' matches no parameter"):
        sweep.main([str(cfg), "--preset", "micro", "--out", str(micro / "sweep_t")])
    assert not (micro / "sweep_t" / "seed0").exists()


def test_every_sweep_config_in_the_repository_is_a_valid_grid():
    """Each configs/sweep_*.py names known knobs and curricula; its corpus values pass the checks of the cpu preset's
    corpus config."""
    preset = load_corpus_config(os.path.join(REPO, "configs", "corpus_default.py"))[1]
    paths = sorted(p for p in os.listdir(os.path.join(REPO, "configs")) if p.startswith("sweep_") and p.endswith(".py"))
    assert "sweep_many_functions.py" in paths
    for p in paths:
        grid, curricula = sweep.load_sweep(os.path.join(REPO, "configs", p))
        assert curricula[0] == "mixture"
        for values in itertools.product(*([(k, v) for v in vs] for k, vs in grid.items() if k in CORPUS_DEFAULTS)):
            validate({**preset, **dict(values)}, where=p)


def test_sweep_gives_retroactive_grpo_the_runners_completion_cap_on_nested_compositions(micro):
    """A cell's Retroactive GRPO on a corpus of nested compositions gets pbb.runner.grpo_cap's cap (the traces
    outgrow configs/retro_stage2_grpo.py's 64 tokens), as experiments/pbb.py gives it; other stages do not."""
    cfg = micro / "corpus_nested.py"
    cfg.write_text(open(os.path.join(REPO, "configs", "corpus_tiny.py")).read() + 'domains = ["programs"]\n'
                   'program_families = {"arith": 0.5, "compose": 0.5}\ncompose_trace = "nested"\n')
    args = [f"--corpus={cfg}"]
    manifest = open_data(load_config(["configs/retro_stage2_grpo.py", *args])[0])[1]
    got = sweep.stage_args({"corpus": str(cfg)}, "retro_stage2_grpo", args, manifest)
    cap = [a for a in got if a.startswith("--grpo_max_new_tokens=")]
    assert len(cap) == 1 and int(cap[0].split("=")[1]) > 64
    assert sweep.stage_args({"corpus": str(cfg)}, "retro_stage1", args, manifest) == args


def test_cells_run_alone_then_collect_without_training(micro, capsys):
    """--cell I trains that cell only (and the pretraining it needs); the cells of separate processes then collect into
    the summary a plain run would write, nothing trained twice. A cell the sweep does not have is one line."""
    cfg, out = micro / "sweep_cells.py", micro / "sweep"
    cfg.write_text('grid = {"learning_rate": [1e-3, 2e-3]}\ncurricula = ["mixture"]\n')
    args = [str(cfg), "--preset", "micro", "--out", str(out), "--samples", "1"]
    with pytest.raises(SystemExit, match=r"^error: --cell 2, but .* has 2 cell\(s\): pick one of 0 to 1$"):
        sweep.main(args + ["--cell", "2"])
    assert not out.exists()
    assert sweep.main(args + ["--seed", "0", "--cell", "1"]) == 0
    assert "cell 1 seed 0 done" in capsys.readouterr().out and not (out / "sweep.json").exists()
    assert (out / "cell1" / "seed0" / "mixture" / "eval.json").exists() and not (out / "cell0").exists()
    pre = out / "seed0" / "pretrain" / "ckpt.pt"
    stamp = os.path.getmtime(pre)
    assert sweep.main(args + ["--cell", "0"]) == 0  # every seed (one) of cell 0, from the same pretraining
    assert "[pbb] reusing" in capsys.readouterr().out and os.path.getmtime(pre) == stamp
    assert [config_of(out, i, "mixture")["learning_rate"] for i in (0, 1)] == [1e-3, 2e-3]
    assert sweep.main(args) == 0  # collects
    assert "[pbb] training" not in capsys.readouterr().out
    rows = json.load(open(out / "sweep.json"))
    assert {r["knobs"]["learning_rate"] for r in rows if r["metric"] == "accuracy"} == {1e-3, 2e-3}
