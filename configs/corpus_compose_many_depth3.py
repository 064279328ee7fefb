# Depth 3 for the many-compositions mixture (docs/composition.md): configs/corpus_compose_many.py (205 S_train
# compositions) with the 18 S_eval compositions of three functions of configs/corpus_compose_depth3.py (s_eval_depth3,
# drawn after everything else: the tokenizer, pretraining and S_train files are those of the many-compositions corpus).
from configs.corpus_compose_many import *

s_eval_depth3 = 18
