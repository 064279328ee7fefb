# The default CPU corpus (configs/corpus_default.py) with one change: CoT traces do not restate the source,
# so an S_train execution rehearses the computation but not recalling the source verbatim (README, Results).
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
cot_restates_instruction = False
