# Implicit execution against the ratio of S_train's executions to declarations in the mixture (docs/implicit.md):
# exec_ratio r draws S_train's direct and CoT executions r times as often per declaration as the default corpus holds
# them (experiments/sweep.py), every declaration, S_eval's included, shown as often as in the default mixture: 215,
# 539 and 1573 steps for r = 0.25, 4 and 16 (280 at 1). The mixture alone, from the runner's pretraining; each cell
# paired with the runner's mixture of the same seeds on the same items:
#   python -m experiments.sweep configs/sweep_exec_ratio.py --mode implicit --seeds 3
#   python -m experiments.compare out/sweep/sweep_exec_ratio/cell2 out/pbb/cpu --splits S_eval,S_control,S_train
grid = {"exec_ratio": [0.25, 4, 16]}
curricula = ["mixture"]
