# The default CPU corpus (configs/corpus_default.py) with the programs domain only: the corpus of the recall-pool
# measurements in the README ("What the base model knows"), which were run before grammars joined the default.
from configs.corpus_default import *

domains = ["programs"]
