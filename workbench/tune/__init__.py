"""Hyperparameter search on Optuna: search spaces over dotted experiment keys, studies whose trials are stored runs."""
