# The default CPU corpus with recursive grammars beside the programs (docs/grammars.md): languages of 200 to
# ~5000 strings of 3 to 10 terminals, so that no short constant answer and no other grammar's strings score well;
# 10000 pretraining grammars, each in one document with its rules and 4 strings (or 1 derivation). Not the
# default: after 1200 pretraining steps (the default's then) the model wrote a valid string of an S_eval grammar from
# its rules in context 0.5% of the time, and its in-context accuracy on programs fell from 0.97 to 0.60.
from configs.corpus_default import *

domains = ["programs", "grammars"]
grammar_recursive = True
grammar_max_len = 10
grammar_min_len = 3
grammar_min_strings = 200
grammar_pretrain_execs = 4
grammar_pretrain_cot_execs = 1
