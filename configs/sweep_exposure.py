# Does the mixture fall behind when the new declarations are both rare and seen fewer times? The mixing-ratio map
# (configs/sweep_mixing.py) at a third of the exposures: Proactive stage 2 trains 47 steps instead of 140, and each
# mixture is as long as shows it the S_eval declarations those 47 steps show (Gu et al., arXiv 2505.18091: the
# rarer a part of the data, the more of it is forgotten between its exposures).
#   python -m experiments.sweep configs/sweep_exposure.py --seeds 3      (cpu preset)
#   stage2_steps, mixing_ratio  derived knobs (experiments/sweep.py)
grid = {"stage2_steps": [47], "mixing_ratio": [0.01, 0.03, 0.3]}
curricula = ["mixture", "proactive"]
