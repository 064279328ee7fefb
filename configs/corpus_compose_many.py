# Many compositions (docs/composition.md): the composition corpus (configs/corpus_compose.py, 14 S_train compositions
# on seed 0) with 240 more S_train behaviours, about four in five of them compositions f(x) = g(h(x)) of two others
# (data/config.py s_train_extra: drawn after every other behaviour from their own seed and kept out of the tokenizer's
# sample), so that a curriculum meets about 200 compositions to learn "restate each callee by its name" from, not 14.
# Same tokenizer, pretraining documents, S_eval and S_control behaviours and eval items as the composition corpus:
# a run on it starts from that corpus's pretraining (experiments/pbb.py --from).
from configs.corpus_compose import *

s_train_extra = 240
s_train_extra_families = {"arith": 0.2, "compose": 0.8}
