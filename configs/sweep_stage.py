# Does curriculum order start to matter with smaller batches or longer stages? (Krasheninnikov et al., arXiv
# 2310.15047: in a two-stage from-scratch setup smaller batches gave more internalisation.)
#   python -m experiments.sweep configs/sweep_stage.py [--seeds 3]      (cpu preset)
#   batch_size   a stage knob: every curriculum stage (the mixture, Proactive stages 1 and 2) trains with it
#   stage_steps  a derived knob (experiments/sweep.py): each Proactive stage trains stage_steps steps and the
#                mixture twice as many (the runner's stage is 140 steps on the cpu preset)
# (batch 4, 560 steps) sees the documents of (batch 16, 140 steps) in four times the updates; (16, 560) sees four
# times the documents, (4, 140) a quarter. Stage knobs leave the corpus alone, so all four cells start from one
# pretraining per seed. Read heatmap_proactive.png: Proactive minus the mixture on S_eval (programs, CoT) per
# cell, with its interval.
grid = {"batch_size": [4, 16], "stage_steps": [140, 560]}
curricula = ["mixture", "proactive"]
