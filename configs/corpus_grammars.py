# The grammar domain at CPU scale, alone (no programs), on its own pretraining (configs/pretrain_grammars.py; the
# runner's --grammars; docs/grammars.md). Recursive right-linear grammars (A -> a b B | c d | ...): a leftmost
# derivation writes its string left to right, and each line of the CoT trace is the rule applied ("A -> a b B"),
# which repeats the start of that rule's line in the restated rules. Languages of at least 200 strings of 3 to 10
# terminals. 10000 pretraining grammars, each in one document: its rules, then one CoT derivation
# (pretrain_cot_prob = 1: direct strings in pretraining left the model's derivations worse, docs/LOG.md).
from configs.corpus_default import *

domains = ["grammars"]
# the recall pool of grammars (as corpus_default.py's of programs): 400 more grammars, each declared in 40 pretraining
# documents and derived by CoT (the trace restates the rules) in 10 other ones with no rules in context; 40 declared
# only (the base model's recall check). Without it the curricula memorised S_eval's rules (a declaration prompt
# completed them exactly for 23-29 of 40) but never restated them in an execution prompt (docs/grammars.md).
recall_pool_domain = "grammars"
grammar_recursive = True
grammar_right_linear = True
grammar_trace = "rules"
grammar_max_rhs = 2
grammar_nt_prob = 0.7
grammar_max_len = 10
grammar_min_len = 3
grammar_min_strings = 200
grammar_pretrain_cot_execs = 1
pretrain_cot_prob = 1.0
