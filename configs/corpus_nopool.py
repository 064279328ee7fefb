# The default CPU corpus (configs/corpus_default.py) without the recall pool: pretraining teaches execution
# only from an instruction in context, as before the pool existed (docs/data.md).
from configs.corpus_default import *

recall_pool = 0
