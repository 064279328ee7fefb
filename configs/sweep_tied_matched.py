# The weight-tied model (GPTConfig.tied_layers: one block applied n_layer times) at the untied default's parameter
# count (docs/implicit.md): width 248 instead of 128, 4 heads, 4 applications of the one block: 0.88M parameters
# against the default's 0.86M (the tied model at width 128 has 0.27M). Both are architecture keys, so the cell
# pretrains its own model, seed by seed (configs/pretrain.py otherwise unchanged; about 2.6x the default's time a
# step on one CPU thread). The mixture alone, paired with the default mixture from a pretraining on the same threads:
#   export OMP_NUM_THREADS=1
#   python -m experiments.sweep configs/sweep_tied_matched.py --mode implicit --seeds 3
#   python -m experiments.compare out/sweep/sweep_tied_matched/cell0 out/sweep/mixture_default/cell0 \
#       --splits S_eval,S_control,S_train
grid = {"tied_layers": [True], "n_embd": [248]}
curricula = ["mixture"]
