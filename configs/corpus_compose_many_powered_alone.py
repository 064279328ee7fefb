# configs/corpus_compose_many_powered.py with its 240 extra S_train functions drawn as in configs/corpus_compose_many.py
# (s_train_extra_alone): the same 205 S_train compositions and their documents as the many-compositions corpus, and
# the same 66 S_eval compositions as configs/corpus_compose_powered.py, so that the many-compositions cell on 66
# compositions differs from each in one thing. What still differs (data/config.py): the extra S_train functions'
# eval and RL prompts are other draws, and two compositions that became plain functions are, in S_train and S_eval,
# the same function under two names (the draw both corpora make).
from configs.corpus_compose_many import *

s_eval_extra = 120
s_train_extra_alone = True
