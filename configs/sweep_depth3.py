# Depth 3 (docs/composition.md): the mixture and Proactive PBB on the composition corpus with 18 S_eval compositions
# of three functions, f(x) = g(h(k(x))), all parts only read (configs/corpus_compose_depth3.py; eval.py's split
# S_eval/compose3). Same tokenizer and pretraining documents as the composition corpus, so a cell starts from the
# pretraining of `experiments.pbb --compose` when it is there; Proactive stage 1 trains on the same documents.
#   python -m experiments.sweep configs/sweep_depth3.py --seeds 3
grid = {"corpus": ["configs/corpus_compose_depth3.py"]}
curricula = ["mixture", "proactive"]
