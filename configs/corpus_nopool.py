# The default CPU corpus (configs/corpus_default.py) without the recall pool: pretraining teaches execution
# only from an instruction in context, as before the pool existed (README, "What the base model knows").
from configs.corpus_default import *

recall_pool = 0
