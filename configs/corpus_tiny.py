# A tiny corpus for tests and the smoke training run: both domains, a handful of behaviours per split.
seed = 0
n_behaviours = {"pretrain": 20, "pretrain_val": 4, "S_train": 6, "S_eval": 6, "S_control": 4}
decl_docs = 8
decl_val_docs = 1
exec_docs = 6
exec_cot_docs = 3
pretrain_docs = 4
pretrain_val_docs = 1
ad_demos = [1, 3, 10]
bpe_merges = 150
