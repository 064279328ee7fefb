# Baseline, algorithm distillation: exec of S_eval with N demonstrations per behaviour and no decl,
# from Proactive stage 1. N is in the mixture name: exec_S_eval_N{1,3,10,30,100}.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

out_dir = f"{_root}/ad_N10"
init_from = f"{_root}/pbb_stage1/ckpt.pt"
train_data = ["exec_S_eval_N10", "pretrain_replay"]
max_iters = _STAGE_STEPS
eval_interval = 0
