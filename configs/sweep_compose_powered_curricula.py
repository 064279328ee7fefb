# The other curricula on the 66-composition corpus (configs/corpus_compose_powered.py; docs/composition.md), each
# against the mixture of configs/sweep_compose_powered.py on the same items, from the same pretrained checkpoint. Each
# stage is lengthened as that mixture was (280 -> 523 steps), by the growth of its own documents' tokens over the
# 14-composition corpus's (configs/corpus_compose.py, seed 0), so that every document is seen as often as there:
# Proactive stage 2 (decl_S_eval, replay) 3.45x, 140 -> 483; Retroactive stage 1 (decl_S_train_S_eval) 2.52x,
# 140 -> 353; Proactive stage 1, Retroactive SFT and GRPO train on S_train's documents, which do not grow: 140, 140, 35.
# Start from the mixture sweep's pretraining and mixture (link cell0/seedS/pretrain and cell0/seedS/mixture to
# out/sweep/sweep_compose_powered/cell0/seedS/...: the sweep checks they are the ones it would train):
#   python -m experiments.sweep configs/sweep_compose_powered_curricula.py --seeds 3
grid = {"corpus": ["configs/corpus_compose_powered.py"], "mixture.max_iters": [523], "pbb_stage2.max_iters": [483],
        "retro_stage1.max_iters": [353]}
curricula = ["mixture", "proactive", "retroactive_sft", "retroactive_grpo"]
