# Implicit execution after training 30x past fitting, at weight decay 1.0 and 0.1 (Wang et al., "Grokked transformers
# are implicit reasoners", arXiv 2405.15071: implicit composition generalised in distribution only 10-100x past
# fitting; docs/implicit.md). Fitting measured on seed 0: the mixture trained 600 steps with S_train's direct
# executions as its validation data (train.py configs/mixture.py --max_iters=600 --eval_interval=20
# --val_data=exec_S_train) takes their loss from 3.53 to 0.458 at step 280 (the default mixture's length) and 0.044
# at step 540, then 0.030 at 600: fitted at about 550 steps, so 30x is 16500. The mixture alone (no other curriculum
# trains that long), logging S_train's direct-execution loss as val_loss (every 70 steps, the mixture config's
# eval_interval: about 235 times). Cell 0 is weight decay 1.0, cell 1 the default (0.1). About 2.2 h a cell on one CPU
# thread; on a GPU each (cell, seed) in its own process (--seed S --cell C, about 5-6 min each on an H200), from the
# pretrainings of configs/sweep_mixture_default.py, paired with that default mixture trained on the same GPU (the
# commands: docs/implicit.md, "30x past fitting, on one GPU"):
#   python -m experiments.sweep configs/sweep_grokking_long.py --mode implicit --seeds 5
#   python -m experiments.compare out/sweep/sweep_grokking_long/cell0 out/sweep/mixture_default_gpu/cell0 \
#       --splits S_eval,S_control,S_train
grid = {"mixture.max_iters": [16500], "mixture.val_data": [["exec_S_train"]], "weight_decay": [1.0, 0.1]}
curricula = ["mixture"]
