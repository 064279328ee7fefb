# Implicit execution after training past fitting, with strong weight decay (Wang et al., "Grokked transformers are
# implicit reasoners", arXiv 2405.15071: implicit composition appeared only after grokking).
#   python -m experiments.sweep configs/sweep_grokking.py --mode implicit --seeds 3      (cpu preset)
#   python -m experiments.compare out/sweep/sweep_grokking/cell1 out/sweep/mixture_default/cell0 \
#       --splits S_eval,S_control,S_train      (and cell0; B: configs/sweep_mixture_default.py, same threads)
# The mixture at mixing_ratio 0.1 (905 steps on the cpu preset, 3x the runner's mixture; S_train's CoT executions
# fitted by ~300 steps, its direct ones by ~550: configs/sweep_grokking_long.py)
# with the default weight decay (0.1: the same stage as cell 1 of configs/sweep_mixing.py) and with 1.0. Read
# S_train and S_eval implicit accuracy (held-out inputs; the majority baseline beside them is chance).
grid = {"mixing_ratio": [0.1], "weight_decay": [0.1, 1.0]}
curricula = ["mixture"]
