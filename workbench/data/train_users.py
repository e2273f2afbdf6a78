"""Training on a share of the users only (few-user fine-tuning experiments, e.g. after ``init_from``).

Every user keeps their validation and test cases (evaluated from their real histories); only
the chosen users' training events train the model and reach the data context (popularity,
training sequences). Users are drawn uniformly with a seed among those with training events.
"""

from __future__ import annotations

import numpy as np

from workbench.data.dataset import LoadedDataset, Split


def training_users(ds: LoadedDataset, split: Split, share: float, seed: int) -> np.ndarray:
    """(U+1,) bool: the users whose training events train (``round(share * users with training events)``,
    at least one)."""
    users = np.arange(1, ds.n_users + 1)
    has_train = split.train_end[users] > ds.offsets[users]
    candidates = users[has_train]
    chosen = np.zeros(ds.n_users + 1, dtype=bool)
    if share >= 1.0:
        chosen[candidates] = True
        return chosen
    count = max(1, int(round(share * len(candidates)))) if len(candidates) else 0
    chosen[np.random.default_rng(seed).choice(candidates, size=count, replace=False)] = True
    return chosen


def restrict_training_users(ds: LoadedDataset, split: Split, share: float, seed: int) -> Split:
    """``split`` with no training events for the users not drawn (their ``train_end`` = their first event)."""
    if share >= 1.0:
        return split
    chosen = training_users(ds, split, share, seed)
    train_end = split.train_end.copy()
    users = np.arange(1, ds.n_users + 1)
    train_end[users] = np.where(chosen[users], split.train_end[users], ds.offsets[users])
    return Split(split.kind, train_end, split.valid_users, split.valid_pos, split.test_users, split.test_pos)
