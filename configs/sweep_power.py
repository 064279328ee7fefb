# The default comparison with twice the S_eval behaviours (40 more, data/config.py s_eval_extra): does every paired
# interval of a curriculum's difference from the mixture reach the widths a decision needs (one seed within +-0.10,
# five within +-0.05)? The extra behaviours are added after the tokenizer's sample, so each seed starts from the
# default pretraining. All four curricula.
#   python -m experiments.sweep configs/sweep_power.py [--seeds 5]      (cpu preset)
grid = {"s_eval_extra": [40]}
curricula = ["mixture", "proactive", "retroactive_sft", "retroactive_grpo"]
