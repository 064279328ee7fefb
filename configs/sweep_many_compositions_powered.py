# The many-compositions mixture (205 S_train compositions) on 66 S_eval compositions instead of 18
# (configs/corpus_compose_many_powered.py), paired with configs/sweep_compose_powered.py on the same items. The
# mixture's own documents grow from 1,217,910 to 1,386,355 tokens (seed 0), so 1720 -> 1958 steps (each document seen
# 1.17x as often as at the default, pretrain_replay counted; 1.16x in configs/sweep_many_compositions.py).
#   python -m experiments.sweep configs/sweep_many_compositions_powered.py --seeds 3
#   python -m experiments.compare out/sweep/sweep_many_compositions_powered/cell0 \
#       out/sweep/sweep_compose_powered/cell0 --splits S_eval,S_eval/compose,S_eval/arith,S_control,S_control/compose
grid = {"corpus": ["configs/corpus_compose_many_powered.py"], "mixture.max_iters": [1958]}
curricula = ["mixture"]
