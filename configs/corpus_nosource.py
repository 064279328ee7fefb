# The regime where curriculum order matters (docs/order.md): the default CPU corpus with
# S_train's CoT traces written without the restated source (s_train_execs = "both_nosource"). Same tokenizer,
# pretraining documents and eval items as the default.
#   python -m experiments.pbb --corpus configs/corpus_nosource.py --out out/pbb/cpu_nosource
from configs.corpus_default import *

s_train_execs = "both_nosource"
