# Settings shared by every stage of every PBB curriculum (configs/pretrain.py, pbb_*.py, retro_*.py,
# mixture.py, ad.py). One switch scales them all: the environment variable PBB_PRESET.
#   cpu   (default) the 2-core CPU sizes
#   gpu   a single GPU: a wider, deeper model and more steps on the same corpus
#   micro seconds per stage, for the tests
# The stage configs import everything public from here; names starting with _ are not config keys.
# Every curriculum stage also trains on `pretrain_replay` (a sample of pretraining documents): without
# it, 200 finetuning steps cut in-context accuracy from 0.97 to about 0.3 (docs/LOG.md, sizing study).
import os

_preset = os.environ.get("PBB_PRESET", "cpu")
_PRESETS = {
    "micro": dict(n_layer=1, n_head=2, n_embd=32, batch_size=4, block_size=256, _steps=dict(pretrain=6, stage=4)),
    # cpu pretraining: 1600 steps, not 1200: with the recall pool, 1200 left in-context accuracy at 0.71 in one seed
    # of three (docs/data.md); 1600 gave that seed 1.00 and a recall check of 0.95
    "cpu": dict(n_layer=4, n_head=4, n_embd=128, batch_size=16, block_size=256, _steps=dict(pretrain=1600, stage=140)),
    # gpu: ~4 epochs over corpus_full's 60000 pretraining documents (9M tokens), as the cpu preset's ~3
    "gpu": dict(n_layer=8, n_head=8, n_embd=512, batch_size=32, block_size=512, _steps=dict(pretrain=2400, stage=500)),
}
if _preset not in _PRESETS:
    raise ValueError(f"PBB_PRESET={_preset!r} is not one of {', '.join(_PRESETS)}")
_p = _PRESETS[_preset]

corpus = {"micro": "configs/corpus_tiny.py", "cpu": "configs/corpus_default.py",
          "gpu": "configs/corpus_full.py"}[_preset]
corpus_seed = 0
n_layer, n_head, n_embd, batch_size, block_size = (_p[k] for k in ("n_layer", "n_head", "n_embd", "batch_size",
                                                                    "block_size"))
_PRETRAIN_STEPS, _STAGE_STEPS = _p["_steps"]["pretrain"], _p["_steps"]["stage"]
_PRETRAIN_LR = 1e-3 if _preset == "gpu" else 3e-3  # the small model learns in-context execution faster at 3e-3
learning_rate = 5e-4  # the curriculum stages; pretraining sets its own (configs/pretrain.py)
min_lr = 5e-5
warmup_iters = 20
eval_iters = 4
log_interval = 10
ckpt_interval = 200
# Stages run by hand are seed 0 of the runner's (python -m experiments.pbb): the same directory, seed and config,
# so that either reuses what the other trained.
seed = 0
_root = f"out/pbb/{_preset}/seed0"  # every stage writes out/pbb/PRESET/seed0/STAGE
