# The control of configs/pbb_grpo.py (experiments/pbb.py --proactive-rl): SFT from Proactive stage 1 on S_train's CoT
# executions, the gold traces of the prompts GRPO samples from, for as many steps at the same learning rate and
# schedule as configs/retro_stage2_grpo.py, and like it without pretrain_replay; Proactive stage 2 follows (stage
# pbb_sft_stage2).
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root
out_dir = f"{_root}/pbb_sft"
init_from = f"{_root}/pbb_stage1/ckpt.pt"
train_data = ["exec_cot_S_train"]
max_iters = _STAGE_STEPS // 4
learning_rate = 1e-4
min_lr = 1e-5
warmup_iters = 5
eval_interval = 0
