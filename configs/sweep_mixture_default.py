# The default mixture as a one-cell sweep (its own length, 280 steps): the B of the sweeps that pretrain on one thread
# (docs/implicit.md), trained from a pretraining of the same threads as theirs, since the thread count changes a
# pretraining's numbers (README, Reproducibility). In one-thread processes (OMP_NUM_THREADS=1):
#   python -m experiments.sweep configs/sweep_mixture_default.py --mode implicit --seeds 5 \
#       --out out/sweep/mixture_default
grid = {"mixture.max_iters": [280]}
curricula = ["mixture"]
