# Proactive PBB on the 205 S_train compositions with 66 S_eval compositions
# (configs/corpus_compose_many_powered_alone.py; docs/composition.md), against the mixture of
# configs/sweep_many_compositions_powered_alone.py on the same items, from the same pretrained checkpoint. Each stage is
# lengthened by the growth of its own documents' tokens over the composition corpus's (configs/corpus_compose.py, seed
# 0), as configs/sweep_compose_powered_curricula.py does: Proactive stage 1 (decl_exec_S_train) 141,584 -> 1,161,257
# tokens, x8.20, 140 -> 1150 steps (as configs/sweep_many_compositions.py); Proactive stage 2 (decl_S_eval, replay)
# 70,091 -> 347,491, x4.96, 140 -> 694. Start from that sweep's pretraining and mixture (link cell0/seedS/pretrain and
# cell0/seedS/mixture to out/sweep/sweep_many_compositions_powered_alone/cell0/seedS/...: the sweep checks they are the
# ones it would train):
#   python -m experiments.sweep configs/sweep_many_compositions_powered_alone_proactive.py --seeds 3
grid = {"corpus": ["configs/corpus_compose_many_powered_alone.py"], "mixture.max_iters": [1963],
        "pbb_stage1.max_iters": [1150], "pbb_stage2.max_iters": [694]}
curricula = ["mixture", "proactive"]
