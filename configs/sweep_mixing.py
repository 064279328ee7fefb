# Is the mixture worse when S_eval declarations are a small share of it? (Gu et al., arXiv 2505.18091: below a
# critical mixing ratio a model memorises almost nothing of the rare part.)
#   python -m experiments.sweep configs/sweep_mixing.py --seeds 3      (cpu preset)
#   mixing_ratio  a derived knob (experiments/sweep.py): the share of S_eval declarations among the mixture
#                 stage's documents, its length set so that it shows as many S_eval declarations as Proactive
#                 stage 2; the default mixture is close to 0.30. Proactive is the same in every cell (trained once
#                 per seed, linked into the other cells).
grid = {"mixing_ratio": [0.3, 0.1, 0.03]}
curricula = ["mixture", "proactive"]
