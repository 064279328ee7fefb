# Proactive PBB with RL between its stages (experiments/pbb.py --proactive-rl): Retroactive's GRPO stage
# (configs/retro_stage2_grpo.py: S_train's exec prompts with the CoT cue, its reward, steps and learning rate) started
# from Proactive stage 1, which already writes S_train's traces; Proactive stage 2 follows (stage pbb_grpo_stage2).
# Its control is configs/pbb_sft.py.
from configs.retro_stage2_grpo import *
from configs.pbb_common import _root
out_dir = f"{_root}/pbb_grpo"
init_from = f"{_root}/pbb_stage1/ckpt.pt"
