# Baseline, the homogeneous mixture: one stage of decl(S_train + S_eval) + exec(S_train), shuffled
# together, from the pretrained checkpoint. Twice a stage's steps: as many as a two-stage curriculum.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/mixture"
init_from = f"{_root}/pretrain/ckpt.pt"
train_data = ["mixture", "pretrain_replay"]
val_data = ["decl_val"]
max_iters = 2 * _STAGE_STEPS
eval_interval = max(1, max_iters // 4)
