# Does curriculum order start to matter with smaller batches or longer stages? (Krasheninnikov et al., arXiv
# 2310.15047: in a two-stage from-scratch setup smaller batches gave more internalisation.)
#   python -m experiments.sweep configs/sweep_stage.py [--seeds 3]      (cpu preset)
#   batch_size  a stage knob: every curriculum stage (the mixture, Proactive stages 1 and 2) trains with it
#   max_iters   a stage knob: the length of each of those stages (the runner's is 140 on the cpu preset)
# Stage knobs leave the corpus alone, so all four cells start from one pretraining per seed. Read
# heatmap_proactive.png: Proactive minus the mixture on S_eval (programs, CoT) per cell, with its interval.
grid = {"batch_size": [4, 16], "max_iters": [140, 560]}
curricula = ["mixture", "proactive"]
