# The grammar pretraining's extension (the runner's gate, pbb/runner.py): when the base model's in-context CoT validity
# on held-out pretraining grammars is below the gate's threshold after configs/pretrain_grammars.py, pretraining goes
# on from that checkpoint for this many more steps, with a warmup and a cosine of their own, up to the gate's cap.
from configs.pretrain_grammars import *
from configs.pbb_common import _PRETRAIN_LR, _PRETRAIN_STEPS, _root

out_dir = f"{_root}/pretrain_more1"
init_from = f"{_root}/pretrain/ckpt.pt"
max_iters = _PRETRAIN_STEPS
learning_rate = _PRETRAIN_LR / 3
min_lr = learning_rate / 10
eval_interval = max(1, max_iters // 4)
