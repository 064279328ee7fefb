# The sweep of the tests (python -m experiments.sweep configs/sweep_micro.py --preset micro): two cells, the
# curriculum stages' learning rate at two values, Proactive PBB beside the mixture in each.
grid = {"learning_rate": [5e-4, 1e-3]}
curricula = ["mixture", "proactive"]
