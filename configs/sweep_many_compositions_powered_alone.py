# configs/sweep_many_compositions_powered.py on configs/corpus_compose_many_powered_alone.py: the many-compositions
# mixture on 66 S_eval compositions with the 205 S_train compositions of configs/corpus_compose_many.py (not a redraw),
# so that it pairs with configs/sweep_compose_powered.py on the same items and with configs/sweep_many_compositions.py
# on the same S_train documents. The mixture's documents grow from 1,217,910 to 1,389,866 tokens (seed 0), so
# 1720 -> 1963 steps, as the redrawn cell's 1958.
#   python -m experiments.sweep configs/sweep_many_compositions_powered_alone.py --seeds 3
#   python -m experiments.compare out/sweep/sweep_many_compositions_powered_alone/cell0 \
#       out/sweep/sweep_compose_powered/cell0 --splits S_eval,S_eval/compose,S_eval/arith,S_control,S_control/compose
grid = {"corpus": ["configs/corpus_compose_many_powered_alone.py"], "mixture.max_iters": [1963]}
curricula = ["mixture"]
