# The default CPU corpus without the recall pool (configs/corpus_nopool.py) and with one more change: CoT
# traces do not restate the source, so an S_train execution rehearses the computation but not recalling the
# source verbatim (docs/order.md).
from configs.corpus_nopool import *

cot_restates_instruction = False
