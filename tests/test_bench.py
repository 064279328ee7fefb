"""bench.py on CPU at a tiny shape: every row times a step, the train.py rows through train_step."""
import os
import re
import runpy

import pytest

import bench
from pbb.training import train_step

TINY = ["--n_layer=1", "--n_head=2", "--n_embd=32", "--block_size=32", "--batch_size=2", "--vocab_size=64",
        "--steps=2", "--warmup=1"]


def rows(out):
    """{label: (ms/step, tokens/s, vs baseline)} of the printed table."""
    found = re.findall(r"^(\S.*?)\s+([\d.]+)\s+(\d+)\s+-\s+([\d.]+)x$", out, re.M)
    return {label: (float(ms), int(tok), float(vs)) for label, ms, tok, vs in found}


def test_bench_times_the_baseline_and_train_py_steps(capsys, monkeypatch):
    calls = []
    step = train_step
    monkeypatch.setattr(bench, "train_step", lambda *a, **k: calls.append(a[5]) or step(*a, **k))
    bench.main([*TINY, "--grad_accum=2"])
    out = capsys.readouterr().out
    assert "B=2x2 T=32 L=1 H=2 C=32 V=64 fp32 eager" in out
    table = rows(out)
    cpu_variants = [k for k in bench.VARIANTS if k not in bench.CUDA_ONLY]
    assert list(table) == [bench.VARIANTS[k][0] for k in cpu_variants]
    assert all(tok > 0 and ms > 0 for ms, tok, _ in table.values())
    assert table[bench.VARIANTS["baseline"][0]][2] == 1.0
    through_train = [k for k in cpu_variants if bench.VARIANTS[k][2] != "none"]  # 'one', 'docs', 'allhead', 'asbase'
    assert len(calls) == 3 * len(through_train)  # warm-up and timed steps, each one train_step
    assert all(c["grad_accum"] == 2 and c["n_layer"] == 1 for c in calls)
    assert sum(c["head_all_positions"] for c in calls) == 3


def test_only_picks_variants_and_the_baseline_stays_first(capsys):
    bench.main([*TINY, "--only=allhead", "--bf16"])
    out = capsys.readouterr().out
    assert "bf16 autocast" in out
    assert list(rows(out)) == [bench.VARIANTS["baseline"][0], bench.VARIANTS["allhead"][0]]
    with pytest.raises(SystemExit):
        bench.main([*TINY, "--only=nope"])


def test_gpu_shape_is_the_gpu_preset_and_gpt2_is_gpt2_small(monkeypatch):
    monkeypatch.setenv("PBB_PRESET", "gpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    preset = runpy.run_path(os.path.join(root, "configs", "pbb_common.py"))  # reads PBB_PRESET when run
    for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size"):
        assert bench.SHAPES["gpu"][k] == preset[k], k
    assert bench.SHAPES["gpt2"] == dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=16,
                                        vocab_size=50304, bf16=True)
