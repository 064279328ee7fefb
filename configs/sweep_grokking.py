# Implicit execution after training far past fitting, with strong weight decay (Wang et al., "Grokked transformers
# are implicit reasoners", arXiv 2405.15071: implicit composition appeared only after grokking).
#   python -m experiments.sweep configs/sweep_grokking.py --mode implicit      (cpu preset)
# The mixture stage runs 1400 steps (5x the runner's 280) at the default weight decay and at 1.0. Read S_train
# and S_eval implicit accuracy in sweep.json (held-out inputs; chance is the majority baseline beside them).
grid = {"weight_decay": [0.1, 1.0], "max_iters": [1400]}
curricula = ["mixture"]
