# Both domains and every program family (arith with up to two statements and an `if`, ciphers,
# compositions): the corpus of the gpu preset. Build: python -m data.build configs/corpus_full.py
# Every field and its meaning: data/config.py (DEFAULTS).
seed = 0
domains = ["programs", "grammars"]
n_behaviours = {"pretrain": 200, "pretrain_val": 20, "S_train": 40, "S_eval": 40, "S_control": 40}
grammar_nonterminals = 3
grammar_max_len = 8
arith_inputs = [0, 9]
decl_docs = 40
exec_docs = 20
ad_demos = [1, 3, 10, 30, 100]
