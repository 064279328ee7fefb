# The default CPU corpus (configs/corpus_default.py) plus a recall pool in pretraining: 400 behaviours whose
# source is declared in 10 documents and executed by CoT (the trace restates the source) in 10 other ones,
# with no instruction in context, and 40 declared-only behaviours (pretrain_recall_val) for the base model's
# recall check. README, "What the base model knows", has the sizing and the paired comparison.
from configs.corpus_default import *

recall_pool = 400
recall_pool_val = 40
recall_decl_docs = 10
recall_exec_docs = 10
