# Retroactive PBB, stage 2 by SFT: exec (direct and CoT) of S_train, after retro stage 1.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/retro_stage2_sft"
init_from = f"{_root}/retro_stage1/ckpt.pt"
train_data = ["exec_S_train", "exec_cot_S_train", "pretrain_replay"]
max_iters = _STAGE_STEPS
eval_interval = 0
