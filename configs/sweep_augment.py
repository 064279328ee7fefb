# Does augmenting the declarations separate the curricula? (Allen-Zhu & Li, arXiv 2309.14316: stored facts are
# extractable only when they were seen in several phrasings.) decl_rewrites = 4: each S_train and S_eval source is
# declared, in turn, as itself and three equivalent rewrites (data/config.py, programs.Arith.rewrite). A corpus knob
# that leaves the tokenizer and pretraining documents alone, so both cells start from one pretraining per seed.
#   python -m experiments.sweep configs/sweep_augment.py [--seeds 3]      (cpu preset)
grid = {"decl_rewrites": [1, 4]}
curricula = ["mixture", "proactive"]
