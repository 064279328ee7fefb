# The many-compositions corpus (configs/corpus_compose_many.py, 205 S_train compositions) with the 120 more S_eval
# behaviours of configs/corpus_compose_powered.py, so that the two pair item by item on every S_eval composition.
from configs.corpus_compose_many import *

s_eval_extra = 120
