"""Training rows on the demo data: 'last' keeps each user's latest window, 'all' makes every
training event (but each user's first) a target exactly once, never a validation/test event."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine_helpers import demo_dataset
from workbench.data.dataset import make_split
from workbench.engine.batches import training_tensors

L = 50


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    ds = demo_dataset(tmp_path_factory)
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


def test_length_buckets_use_every_row_once_in_short_batches(data):
    import torch
    from workbench.engine.batches import epoch_batches
    ds, split = data
    t = training_tensors(ds, split, L, "all")
    gen = torch.Generator().manual_seed(0)
    plain = epoch_batches(t.lengths, 32, gen)
    bucketed = epoch_batches(t.lengths, 32, gen, by_length=True, pool=8)
    for batches in (plain, bucketed):
        assert sorted(torch.cat(batches).tolist()) == list(range(len(t)))
        assert len(batches) == -(-len(t) // 32)
    def width(batches):
        return sum(int(t.lengths[b].max()) * len(b) for b in batches)
    assert width(bucketed) < 0.9 * width(plain)          # less padding to compute over
    first = bucketed[0]
    trimmed, full = t.batch(first, trim=True), t.batch(first)
    k = trimmed.items.shape[1]
    assert k == int(t.lengths[first].max()) < L or k == L
    for name in ("items", "targets", "timestamps", "target_timestamps", "actions", "target_actions"):
        assert torch.equal(getattr(trimmed, name), getattr(full, name)[:, L - k:])   # only all-padding columns go
        assert not (getattr(full, name)[:, :L - k] != 0).any()


@pytest.mark.parametrize("windows", ["all", "last"])
@pytest.mark.parametrize("trim", [False, True])
def test_windows_cut_per_batch_equal_the_whole_tensors(data, windows, trim):
    import torch

    from workbench.engine.batches import epoch_batches, training_windows

    ds, split = data
    whole, lazy = training_tensors(ds, split, L, windows), training_windows(ds, split, L, windows)
    assert len(lazy) == len(whole) and lazy.num_targets == whole.num_targets
    assert torch.equal(lazy.lengths, whole.lengths) and torch.equal(lazy.row_targets, whole.row_targets)
    assert torch.equal(lazy.users, whole.users)
    # one epoch of the trainer's batches (same seed -> same rows): every tensor bit-identical
    for rows in epoch_batches(whole.lengths, 64, torch.Generator().manual_seed(3), by_length=trim):
        a, b = whole.batch(rows, trim), lazy.batch(rows, trim)
        for name in ("items", "targets", "users", "timestamps", "target_timestamps", "actions", "target_actions",
                     "target_values"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None and y is None) or (x.dtype == y.dtype and torch.equal(x, y)), name


def test_data_context_train_sequences_are_columns_of_each_users_training_events(data):
    """``ctx.train_sequences`` holds two numpy columns (no Python int per event) and gives each
    user's training items, in order, as a list; popularity counts exactly those events."""
    from workbench.engine.batches import data_context
    from workbench.model.sequences import ItemSequences
    ds, split = data
    ctx = data_context(ds, split, L)
    seqs = ctx.train_sequences
    assert isinstance(seqs, ItemSequences) and len(seqs) == ds.n_users + 1 and seqs[0] == []
    assert isinstance(seqs.values, np.ndarray) and len(seqs.values) == int(seqs.lengths.sum())
    for u in (1, ds.n_users // 2, ds.n_users):
        assert seqs[u] == ds.items[ds.offsets[u]:split.train_end[u]].tolist()
    assert [len(s) for s in seqs] == seqs.lengths.tolist()
    assert sum(map(len, seqs)) < len(ds.items)        # validation and test events are left out
    counts = np.bincount(np.concatenate([ds.items[ds.offsets[u]:split.train_end[u]] for u in range(1, ds.n_users + 1)]),
                         minlength=ds.n_items + 1)
    assert ctx.item_popularity.tolist() == counts.astype(float).tolist()
    # a DataContext given plain lists converts them; the lists read back unchanged
    from workbench.model.base import DataContext
    lists = [[], [3, 1, 2], [], [5]]
    back = DataContext(num_items=5, num_users=3, max_len=L, train_sequences=lists).train_sequences
    assert list(back) == lists and back[-1] == [5] and back[1:3] == [[3, 1, 2], []]
    with pytest.raises(IndexError):
        back[4]
