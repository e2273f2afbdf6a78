"""Cold-start protocols: a share of the items, or of the users, is held out of training entirely.

The held-out items are drawn uniformly at random (seeded). Their events are removed from
every training sequence (so they are never an input, a target or a graph edge), while
validation and test keep the users' real histories and targets: a user whose test item is
held out asks for an item the model never saw, which only content (e.g. the text view's
item vectors) can recommend. The returned training dataset is a filtered copy in which
every event trains; evaluation uses the original dataset and split.

Held-out users (``split.holdout_users``) have no training event at all; at validation and test
time the model reads their histories as it would a new person's (users unseen in training).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from workbench.data.dataset import LoadedDataset, Split, event_indices


def held_out_items(n_items: int, share: float, seed: int) -> np.ndarray:
    """(N+1,) bool: True for the ``round(share * N)`` held-out item ids (never the padding id 0)."""
    return _draw(n_items, share, seed, "item")


def _draw(n: int, share: float, seed: int, what: str) -> np.ndarray:
    if not 0.0 <= share < 1.0:
        raise ValueError(f"held-out {what} share must be in [0, 1), got {share}")
    mask = np.zeros(n + 1, dtype=bool)
    count = int(round(share * n))
    if count:
        mask[1 + np.random.default_rng(seed).choice(n, size=count, replace=False)] = True
    return mask


def training_without(ds: LoadedDataset, split: Split, held_out: np.ndarray) -> tuple[LoadedDataset, Split]:
    """A copy of ``ds`` holding only training events of items not held out, and a split in
    which all of them train (no validation/test cases: evaluate on the original)."""
    users = np.arange(1, ds.n_users + 1)
    starts, ends = ds.offsets[users], split.train_end[users]
    idx = event_indices(starts, ends)                            # every training event, user by user
    kept = ~held_out[ds.items[idx]]
    counts = np.bincount(np.repeat(users, ends - starts)[kept], minlength=ds.n_users + 1)
    offsets = np.zeros(ds.n_users + 2, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)                  # events of user u: offsets[u]:offsets[u + 1]
    keep = idx[kept]
    filtered = replace(ds, offsets=offsets, items=ds.items[keep], timestamps=ds.timestamps[keep],
                       actions=ds.actions[keep], values=ds.values[keep] if ds.values is not None else None)
    empty = np.zeros(0, dtype=np.int64)
    return filtered, Split(split.kind, offsets[1:].copy(), empty, empty, empty, empty)


def held_out_users(n_users: int, share: float, seed: int) -> np.ndarray:
    """(U+1,) bool: True for the ``round(share * U)`` users held out of training (never the padding id 0)."""
    return _draw(n_users, share, seed, "user")


def split_without_users(ds: LoadedDataset, split: Split, held_out: np.ndarray) -> Split:
    """``split`` with no training event for the held-out users (their ``train_end`` at their first
    event): they never appear in training windows, training sequences, popularity counts or graph
    edges. Validation and test keep their cases, with their full histories as model input."""
    train_end = split.train_end.copy()
    users = np.flatnonzero(held_out[: ds.n_users + 1])
    train_end[users] = ds.offsets[users]
    return replace(split, train_end=train_end)
