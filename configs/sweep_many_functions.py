# Implicit execution with ten times the S_train functions (docs/implicit.md): meta-learning needs many tasks, and the
# paper used 100-800 training functions. 360 more S_train functions (data/config.py s_train_extra: drawn after the
# tokenizer's sample, so each seed starts from the default pretraining), and the stages lengthened so that every
# document is seen as often as at the default: the mixture stage walks its mixtures (unweighted, every document once
# per epoch), which grow from 216k to 1.33M tokens (x6.14: mixture 179,160 -> 1,289,946, pretrain_replay 37,044),
# so 280 -> 1720 steps (stage_steps 860), about 4.8 epochs as at the default; S_eval's declarations are seen as often.
# The mixture and Proactive PBB (each stage 860 steps); the mixture's paired difference from the runner's mixture (same
# pretraining, same S_eval and S_control items):
#   python -m experiments.sweep configs/sweep_many_functions.py --mode implicit --seeds 5
#   python -m experiments.compare out/sweep/sweep_many_functions/cell0 out/pbb/cpu --splits S_eval,S_control
grid = {"s_train_extra": [360], "stage_steps": [860]}
curricula = ["mixture", "proactive"]
