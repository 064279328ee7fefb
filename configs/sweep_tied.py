# The weight-tied (recurrent) model (GPTConfig.tied_layers: one block applied n_layer times), which the grokking
# paper (arXiv 2405.15071) suggests for out-of-distribution composition, beside the default untied one.
#   python -m experiments.sweep configs/sweep_tied.py      (cpu preset)
# tied_layers is an architecture key: the tied cell pretrains its own model; the untied cell shares the preset's.
grid = {"tied_layers": [False, True]}
curricula = ["mixture", "proactive"]
