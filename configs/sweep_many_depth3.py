# Depth 3 for the best composition cell (docs/composition.md): the mixture of configs/sweep_many_compositions.py (205
# S_train compositions, 1720 steps) on the corpus that adds 18 S_eval compositions of three functions
# (configs/corpus_compose_many_depth3.py; eval.py's split S_eval/compose3):
#   python -m experiments.sweep configs/sweep_many_depth3.py --seeds 3
grid = {"corpus": ["configs/corpus_compose_many_depth3.py"], "mixture.max_iters": [1720]}
curricula = ["mixture"]
