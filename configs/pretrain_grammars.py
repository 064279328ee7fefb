# Stage 0 for the grammar domain (configs/corpus_grammars.py; the runner's --grammars uses it in place of
# configs/pretrain.py): twice the steps. A derivation is a long exact trace (the rules restated, one line per rule
# applied, the string), and the base model's validity from the rules in context (eval.py mode incontext_cot, S_eval)
# was 0.40 after 1600 steps and 0.85 after 3200 (seed 1337, no recall pool; docs/grammars.md).
from configs.pbb_common import _PRETRAIN_STEPS
from configs.pretrain import *

corpus = "configs/corpus_grammars.py"
max_iters = 2 * _PRETRAIN_STEPS
eval_interval = max(1, max_iters // 4)
