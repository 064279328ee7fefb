# Implicit execution after training past fitting, with strong weight decay (Wang et al., "Grokked transformers are
# implicit reasoners", arXiv 2405.15071: implicit composition appeared only after grokking).
#   python -m experiments.sweep configs/sweep_grokking.py --mode implicit      (cpu preset)
# The mixture at mixing_ratio 0.1 (905 steps on the cpu preset, 3x the runner's mixture, S_train fitted by ~300)
# with the default weight decay (0.1: the same stage as cell 1 of configs/sweep_mixing.py) and with 1.0. Read
# S_train and S_eval implicit accuracy (held-out inputs; the majority baseline beside them is chance).
grid = {"mixing_ratio": [0.1], "weight_decay": [0.1, 1.0]}
curricula = ["mixture"]
