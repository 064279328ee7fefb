# Stage 0 of every curriculum: from scratch on the pretrain pool (other behaviours, each an
# instruction followed by several executions in context).
from configs.pbb_common import *
from configs.pbb_common import _PRETRAIN_LR, _PRETRAIN_STEPS, _root

out_dir = f"{_root}/pretrain"
init_from = "scratch"
train_data = ["pretrain"]
val_data = ["pretrain_val"]
max_iters = _PRETRAIN_STEPS
learning_rate = _PRETRAIN_LR
min_lr = _PRETRAIN_LR / 10
eval_interval = max(1, max_iters // 4)
