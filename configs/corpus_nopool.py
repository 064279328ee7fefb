# The programs-only default corpus (configs/corpus_programs.py) without the recall pool: pretraining teaches
# execution only from an instruction in context, as before the pool existed (README, "What the base model knows").
from configs.corpus_programs import *

recall_pool = 0
