# The corpus of the gpu preset: both domains and every program family (arith with up to two statements
# and an `if`, ciphers, compositions), with the CPU sizing study's lessons (docs/LOG.md): a pretraining pool
# of fresh behaviours, each seen in one document (30000 per domain, ~4 epochs over the gpu preset's
# pretraining), loss on pretrain answers and traces weighted 10x the rest, CoT pretraining documents.
# Documents up to 512 tokens (compositions with CoT traces are long). Build (about a minute on one core):
#   python -m data.build configs/corpus_full.py         Every field and its meaning: data/config.py (DEFAULTS).
seed = 0
domains = ["programs", "grammars"]
n_behaviours = {"pretrain": 30000, "pretrain_val": 100, "S_train": 40, "S_eval": 40, "S_control": 40}
grammar_nonterminals = 3
grammar_max_len = 8
arith_inputs = [0, 9]
decl_docs = 40
exec_docs = 20
exec_cot_docs = 20
pretrain_docs = 1
pretrain_val_docs = 1
pretrain_execs = 6
pretrain_cot_prob = 0.35
pretrain_cot_execs = 2
pretrain_prompt_weight = 0.1
ad_demos = [1, 3, 10, 30, 100]
max_doc_tokens = 512
