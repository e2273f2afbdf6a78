"""Timestamps in batches keep second precision and the right hour / day of week (demo data with
whole-second times): float32 Unix seconds would round every time to 128 s. (Relative float32 seconds
hold whole seconds exactly for 194 days; finer times are kept to within half a second.)"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import demo_dataset
from workbench.data.dataset import make_split
from workbench.engine.batches import eval_batches, history_batch, training_tensors

L = 50


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    ds = demo_dataset(tmp_path_factory, whole_seconds=True)
    return ds, make_split(ds, "loo")


def _hour_dow(t):
    return np.floor(t / 3600) % 24, (np.floor(t / 86400) + 3) % 7


def test_training_times_keep_gaps_to_the_second_and_the_clock(data):
    ds, split = data
    t = training_tensors(ds, split, L, "all")
    rows = np.flatnonzero(t.users.numpy() <= 200)
    for r in rows:
        real = t.items[r].numpy() > 0
        u = int(t.users[r])
        rel = t.timestamps[r].numpy().astype(np.float64)[real]
        events = ds.items[ds.offsets[u]:split.train_end[u]]
        times = ds.timestamps[ds.offsets[u]:split.train_end[u]]
        # locate the window in the user's history by its items
        n = int(real.sum())
        if n < 2:
            continue
        start = next(s for s in range(len(events) - n + 1) if (events[s:s + n] == t.items[r].numpy()[real]).all())
        absolute = times[start:start + n]
        assert np.abs(np.diff(rel) - np.diff(absolute)).max() <= 1.0
        assert (rel > 0).all()
        for a, b in zip(_hour_dow(rel), _hour_dow(absolute)):
            assert (a == b).all()
        tgt = t.target_timestamps[r].numpy().astype(np.float64)[real]
        assert np.abs((tgt - rel) - (times[start + 1:start + n + 1] - absolute)).max() <= 1.0


def test_evaluated_event_time_shares_the_history_origin(data):
    ds, split = data
    users = split.test_users[:300]
    pos = split.test_pos[:300]
    (batch,) = [b.batch for b in eval_batches(ds, users, pos, L, batch_size=512)]
    last = batch.timestamps[:, -1].double().numpy()
    asked = batch.target_timestamps[:, -1].double().numpy()
    true_gap = ds.timestamps[pos] - ds.timestamps[pos - 1]
    assert np.abs((asked - last) - true_gap).max() <= 1.0
    for a, b in zip(_hour_dow(asked), _hour_dow(ds.timestamps[pos])):
        assert (a == b).all()


def test_recommendation_asks_at_the_time_of_the_last_event(data):
    ds, _ = data
    batch, history = history_batch(ds, 5, L)
    assert batch.target_timestamps[0, -1] == batch.timestamps[0, -1] > 0
    assert len(history) == ds.offsets[6] - ds.offsets[5]
