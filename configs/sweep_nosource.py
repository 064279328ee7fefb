# The regime of configs/sweep_execs.py where curriculum order matters, alone: S_train's CoT traces without the
# restated source (s_train_execs = "both_nosource"). Proactive PBB against the mixture, more seeds cheaply.
#   python -m experiments.sweep configs/sweep_nosource.py [--seeds 5]      (cpu preset)
grid = {"s_train_execs": ["both_nosource"]}
curricula = ["mixture", "proactive"]
