# Proactive PBB, stage 2: internalise new instructions. decl of S_eval only, plus a small replay of
# stage 1 (the `replay` mixture; drop it from train_data to ablate replay).
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/pbb_stage2"
init_from = f"{_root}/pbb_stage1/ckpt.pt"
train_data = ["decl_S_eval", "replay", "pretrain_replay"]
val_data = ["decl_val"]
max_iters = _STAGE_STEPS
eval_interval = max(1, max_iters // 4)
