# Retroactive PBB, stage 2 by RL (GRPO): exec prompts of S_train with the CoT cue, reward 1 for an exact
# answer after the trace (grammars: a valid string), after retro stage 1. See grpo.py.
from configs.pbb_common import *
from configs.pbb_common import _STAGE_STEPS, _root

stage = "grpo"
out_dir = f"{_root}/retro_stage2_grpo"
init_from = f"{_root}/retro_stage1/ckpt.pt"
grpo_mode = "cot"  # the trace restates the recalled source, so RL can reinforce recall; "implicit" answers directly
grpo_max_new_tokens = 64  # the longest CoT execution document of the default corpus is 75 tokens, prompt included
max_iters = _STAGE_STEPS // 4
learning_rate = 1e-4
min_lr = 1e-5
warmup_iters = 5
eval_interval = 0
