# Composition with many S_train compositions (docs/composition.md): 205 S_train compositions instead of 14
# (configs/corpus_compose_many.py), for the mixture and Proactive PBB. The corpus keeps the composition corpus's
# tokenizer and pretraining documents, so a cell starts from the same pretraining as `experiments.pbb --compose`, and
# its S_eval and S_control items, so the two pair item by item. The stages are lengthened so that every document is
# seen as often as at the default: the mixture's mixtures grow from 198,237 to 1,217,910 tokens (x6.14; seed 0), so
# 280 -> 1720 steps, and Proactive stage 1's (decl_exec_S_train) from 141,584 to 1,161,257 (x8.20), so 140 -> 1150;
# Proactive stage 2 (S_eval's declarations) keeps its 140. Against the runner's composition run:
#   python -m experiments.sweep configs/sweep_many_compositions.py --seeds 3
#   python -m experiments.compare out/sweep/sweep_many_compositions/cell0 out/pbb/cpu_compose --splits S_eval,S_control
grid = {"corpus": ["configs/corpus_compose_many.py"], "mixture.max_iters": [1720], "pbb_stage1.max_iters": [1150]}
curricula = ["mixture", "proactive"]
