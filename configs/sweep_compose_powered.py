# The composition run's mixture with 66 S_eval compositions instead of 18 (configs/corpus_compose_powered.py), the
# reference for configs/sweep_many_compositions_powered.py: the two pair on the same 198 S_eval composition items a
# seed. The mixture's own documents grow from 198,237 to 370,193 tokens (seed 0), so 280 -> 523 steps, scaled as in
# configs/sweep_many_compositions.py (with pretrain_replay counted, each document is seen 1.09x as often as at the
# default). Same tokenizer and pretraining documents as the composition corpus, so a cell starts from the pretraining
# of `experiments.pbb --compose` (link cell0/seedS/pretrain to it).
#   python -m experiments.sweep configs/sweep_compose_powered.py --seeds 3
grid = {"corpus": ["configs/corpus_compose_powered.py"], "mixture.max_iters": [523]}
curricula = ["mixture"]
