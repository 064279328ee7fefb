# The default CPU corpus (configs/corpus_default.py) with one change: CoT traces do not restate the source,
# so an S_train execution rehearses the computation but not recalling the source verbatim (README, Results).
from configs.corpus_default import *

cot_restates_instruction = False
