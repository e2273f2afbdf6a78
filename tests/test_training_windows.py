"""Training rows on real ml-100k: 'last' keeps each user's latest window, 'all' makes every
training event (but each user's first) a target exactly once, never a validation/test event."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine_helpers import ml100k_dataset
from workbench.data.dataset import make_split
from workbench.engine.batches import training_tensors

L = 50


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    ds = ml100k_dataset(tmp_path_factory)
    return ds, make_split(ds, "loo")


def _pairs(t) -> Counter:
    """(user, input item, target item) per real position."""
    real = t.targets > 0
    users = t.users[:, None].expand_as(t.targets)[real]
    return Counter(zip(users.tolist(), t.items[real].tolist(), t.targets[real].tolist()))


def _expected(ds, split, users, last_only: bool) -> Counter:
    out = Counter()
    for u in users:
        start, end = int(ds.offsets[u]), int(split.train_end[u])
        first = max(start, end - 1 - L) if last_only else start
        for e in range(first, end - 1):
            out[(u, int(ds.items[e]), int(ds.items[e + 1]))] += 1
    return out


def test_all_windows_make_every_training_event_a_target_once(data):
    ds, split = data
    users = range(1, ds.n_users + 1)
    t = training_tensors(ds, split, L, "all")
    assert _pairs(t) == _expected(ds, split, users, last_only=False)
    lengths = split.train_end[1:] - ds.offsets[1:-1] - 1
    assert len(t) == int(np.ceil(lengths / L).sum())          # consecutive windows, no overlap
    assert (t.targets[:, -1] > 0).all()                       # every window ends on a real target


def test_last_window_keeps_only_the_latest_targets(data):
    ds, split = data
    t = training_tensors(ds, split, L, "last")
    assert len(t) == ds.n_users
    assert _pairs(t) == _expected(ds, split, range(1, ds.n_users + 1), last_only=True)
    assert sum(_pairs(t).values()) < sum(_pairs(training_tensors(ds, split, L, "all")).values())


def test_unknown_window_mode_is_refused(data):
    ds, split = data
    with pytest.raises(ValueError, match="windows"):
        training_tensors(ds, split, L, "random")
