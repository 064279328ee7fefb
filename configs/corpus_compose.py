# Composition (python -m experiments.pbb --compose; docs/composition.md): the default CPU corpus in which each
# behaviour of the curriculum's splits (S_train, S_eval, S_control) and of the recall pool is drawn as a
# composition f(x) = g(h(x)) of two earlier plain behaviours of its split with probability 0.5 (seed 0: 14 of 40 in
# S_train, 18 in S_eval, 19 in S_control), declared like any other (`def f(x): return g(h(x))`). A composition's
# CoT trace is nested: f's source, then h's source and steps on x, then g's source and steps on h(x). S_eval's
# compositions chain two S_eval functions whose sources were only read, never executed; eval.py reports them
# as split S_eval/compose. The 10000 in-context pretraining behaviours stay plain (their callees are not in
# context). Other behaviours and eval items differ from the default corpus's.
from configs.corpus_default import *

program_families = {"arith": 0.5, "compose": 0.5}
compose_trace = "nested"
compose_splits = ["S_train", "S_eval", "S_control", "recall_pool", "pretrain_recall_val"]
