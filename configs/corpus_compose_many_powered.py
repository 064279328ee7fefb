# The many-compositions corpus (configs/corpus_compose_many.py, 205 S_train compositions) with the 120 more S_eval
# behaviours of configs/corpus_compose_powered.py, so that the two pair item by item on every S_eval composition. The
# 240 extra S_train functions come out redrawn (s_train_extra draws its names after every name in use, the new S_eval
# ones included): 238 of them are other functions than in configs/corpus_compose_many.py, 201 compositions (seed 0).
from configs.corpus_compose_many import *

s_eval_extra = 120
