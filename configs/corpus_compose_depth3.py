# Depth 3 (docs/composition.md): the composition corpus (configs/corpus_compose.py) with 18 more S_eval behaviours,
# each f(x) = g(h(k(x))) of three plain S_eval functions, all four only read (data/config.py s_eval_depth3: drawn
# after every other behaviour from their own seed; eval.py's split S_eval/compose3). Same tokenizer, pretraining
# documents, S_train documents and first S_eval items as the composition corpus: Proactive stage 1 and Retroactive
# SFT's data are unchanged; S_eval's declarations gain the 18.
from configs.corpus_compose import *

s_eval_depth3 = 18
