# Implicit execution when pretraining states the pool's functions in varied forms (docs/implicit.md; Allen-Zhu & Li,
# arXiv 2309.14316: knowledge is extractable at a name only when pretraining saw it in several forms). 20 fact
# documents per recall_pool function (data/config.py recall_fact_docs: the operator, the constant, the steps in words
# or as one expression, the name first or last), added to pretraining after the tokenizer's sample: same tokenizer,
# curriculum documents, pretrain_replay and eval items as the default corpus. Its pretraining documents differ, so each
# seed pretrains its own model, 1600 steps as the default: the 8000 short fact documents add about 9% to pretrain's
# tokens, so every other pretraining document is seen about 8% less often. The curricula run as the runner's. The
# mixture and Proactive PBB; paired with the runner's of the same seeds on the same items (and experiments.facts: is
# a function's constant completed at its name?):
#   python -m experiments.sweep configs/sweep_facts.py --mode implicit --seeds 3
#   python -m experiments.compare out/sweep/sweep_facts/cell0 out/pbb/cpu --splits S_eval,S_control,S_train
#   python -m experiments.facts out/sweep/sweep_facts/cell0/seed0/{pretrain,mixture}/ckpt.pt
grid = {"recall_fact_docs": [20]}
curricula = ["mixture", "proactive"]
