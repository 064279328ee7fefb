# More S_eval compositions (docs/composition.md): the composition corpus (configs/corpus_compose.py, 18 S_eval
# compositions on seed 0) with 120 more S_eval behaviours (s_eval_extra; 48 of them compositions on seed 0), so that a
# paired difference on S_eval/compose rests on 66 compositions instead of 18. Drawn after every
# other behaviour and kept out of the tokenizer's sample: same tokenizer, pretraining documents, S_train and S_control
# files as the composition corpus, and its S_eval eval items come first.
from configs.corpus_compose import *

s_eval_extra = 120
