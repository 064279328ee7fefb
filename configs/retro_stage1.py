# Retroactive PBB, stage 1: decl of S_train and S_eval, from the pretrained checkpoint.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/retro_stage1"
init_from = f"{_root}/pretrain/ckpt.pt"
train_data = ["decl_S_train_S_eval", "pretrain_replay"]
val_data = ["decl_val"]
max_iters = _STAGE_STEPS
eval_interval = max(1, max_iters // 4)
