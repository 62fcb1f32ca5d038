"""Hyperparameter sweeps on Optuna: the search space, the shared study, the report (``lit-nn sweep``)."""
