# Implicit execution against depth at equal width (docs/implicit.md): the cpu preset's model has 4 layers of width
# 128 (0.85M parameters); this cell has 8 (1.64M), 4 heads as at the default. n_layer is an architecture key, so
# the cell pretrains its own model, seed by seed (configs/pretrain.py otherwise unchanged). The mixture alone; paired
# with the default mixture (4 layers) on the same items:
#   python -m experiments.sweep configs/sweep_depth.py --mode implicit --seeds 3
#   python -m experiments.compare out/sweep/sweep_depth/cell0 out/pbb/cpu --splits S_eval,S_control,S_train
grid = {"n_layer": [8]}
curricula = ["mixture"]
