# Proactive PBB, stage 1: learn how instructions map to behaviour. decl + exec (direct and CoT) of
# S_train, shuffled together, from the pretrained checkpoint.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/pbb_stage1"
init_from = f"{_root}/pretrain/ckpt.pt"
train_data = ["decl_exec_S_train", "pretrain_replay"]
val_data = ["decl_val"]
max_iters = _STAGE_STEPS
eval_interval = max(1, max_iters // 4)
