# The out-of-distribution test (python -m experiments.pbb --ood; docs/ood.md): the default
# CPU corpus with S_train's executions and AD's demonstrations of S_eval drawn from the skewed input
# distribution (low integers much more likely), and every held-out evaluation input drawn from the half of the
# inputs that the skew makes rarest (5..9). Pretraining and the recall pool stay uniform. The control
# (ad_uniform_control): the same number of S_eval demonstrations drawn uniformly, for AD on the same eval items.
from configs.corpus_default import *

train_input_dist = "skewed"
eval_input_dist = "tail"
ad_demos = [10, 100]
ad_uniform_control = True
