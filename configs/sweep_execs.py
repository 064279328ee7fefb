# How S_train's executions look (data/config.py, s_train_execs): direct answers and CoT that restates the source
# (the default, "both"), direct answers only, or direct answers and CoT without the restated source. The recall
# analysis (docs/order.md) says the restated source turns every S_train execution into a lesson in recalling a
# source, for both curricula alike; without it, or without CoT, the mixture's S_train executions no longer teach that.
# A corpus knob applied after the tokenizer's sample: all cells start from one pretraining per seed.
#   python -m experiments.sweep configs/sweep_execs.py [--seeds 3]      (cpu preset)
grid = {"s_train_execs": ["direct", "both_nosource", "both"]}
curricula = ["mixture", "proactive", "retroactive_sft"]
