# Implicit execution with ten times the S_train functions (docs/implicit.md): meta-learning needs many tasks, and the
# paper used 100-800 training functions. 360 more S_train functions (data/config.py s_train_extra: drawn after the
# tokenizer's sample, so each seed starts from the default pretraining) and ten times the stage steps, so that each
# S_train function's documents, and S_eval's declarations, are seen about as often as at the default. The mixture
# only; its paired difference from the runner's mixture (same pretraining, same S_eval and S_control items):
#   python -m experiments.sweep configs/sweep_many_functions.py --mode implicit --seeds 3
#   python -m experiments.compare out/sweep/sweep_many_functions/cell0 out/pbb/cpu --splits S_eval,S_control
grid = {"s_train_extra": [360], "stage_steps": [1400]}
curricula = ["mixture"]
