# The default CPU corpus: programs only, one-statement arithmetic `y = x OP c; return y % 10` (a few bits
# per behaviour), a pretrain pool of 10000 fresh behaviours seen once each (nothing to memorise: the
# model must execute from the source in context), loss on pretrain answers weighted 10x the rest.
# The sizing study that led here is in docs/LOG.md. With recursive grammars beside the programs: corpus_both.py
# (measured, and not the default: docs/grammars.md). Both domains and all families: corpus_full.py.
# Every field and its meaning: data/config.py (DEFAULTS). Build: python -m data.build configs/corpus_default.py
seed = 0
domains = ["programs"]
n_behaviours = {"pretrain": 10000, "pretrain_val": 100, "S_train": 40, "S_eval": 40, "S_control": 40}
program_families = {"arith": 1.0}
arith_inputs = [0, 9]
arith_max_statements = 1
arith_if_prob = 0.0
pretrain_docs = 1
pretrain_val_docs = 1
pretrain_execs = 8
pretrain_cot_prob = 0.35
pretrain_cot_execs = 2
pretrain_prompt_weight = 0.1
decl_docs = 40
exec_docs = 20
exec_cot_docs = 20
ad_demos = [1, 3, 10, 30, 100]
# The recall pool (docs/data.md): 400 more behaviours, each declared in 40 pretraining
# documents and executed by CoT (the trace restates the source) in 10 other ones, with no instruction in
# context, and 40 declared-only ones (split pretrain_recall_val) for the base model's recall check. With 10
# declarations each it lifted S_eval CoT accuracy of every curriculum by 0.3-0.4 (paired, three seeds) but the
# base model recalled the declared-only sources only 5% of the time; with 40, 86% (seed 0). recall_pool = 0:
# configs/corpus_nopool.py.
recall_pool = 400
recall_pool_val = 40
recall_decl_docs = 40
recall_exec_docs = 10
