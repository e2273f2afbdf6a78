"""Leave-one-out with a validation sample of users (gSASRec / SASRec+ protocol) on the demo data."""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import demo_dataset
from workbench.data.dataset import make_split
from workbench.engine.batches import training_tensors


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return demo_dataset(tmp_path_factory)


def test_every_user_validates_by_default(ds):
    split = make_split(ds, "loo")
    end = ds.offsets[2:ds.n_users + 2]
    assert len(split.valid_users) == len(split.test_users) == ds.n_users
    assert (split.valid_pos == end - 2).all() and (split.train_end[1:] == end - 2).all()


def test_sampled_validation_users_and_the_others_train_on_their_second_last_event(ds):
    split = make_split(ds, "loo", valid_users=100, seed=5)
    end = ds.offsets[2:ds.n_users + 2]
    assert len(split.valid_users) == 100 and len(split.test_users) == ds.n_users
    assert (split.test_pos == end - 1).all()                             # the test target is unchanged
    validated = np.zeros(ds.n_users + 1, dtype=bool)
    validated[split.valid_users] = True
    assert (split.valid_pos == ds.offsets[split.valid_users + 1] - 2).all()
    assert (split.train_end[1:] == np.where(validated[1:], end - 2, end - 1)).all()
    again = make_split(ds, "loo", valid_users=100, seed=5)
    assert (again.valid_users == split.valid_users).all()                # seeded
    # neither a validation nor a test target is ever a training target
    t = training_tensors(ds, split, 50, "all")
    trained = set(zip(t.users[:, None].expand_as(t.targets)[t.targets > 0].tolist(),
                      t.targets[t.targets > 0].tolist()))
    held = {(int(u), int(ds.items[p])) for u, p in zip(split.valid_users, split.valid_pos)}
    held |= {(int(u), int(ds.items[p])) for u, p in zip(split.test_users, split.test_pos)}
    repeated = {(u, i) for u, i in held
                if (ds.items[ds.offsets[u]:ds.offsets[u + 1]] == i).sum() > 1}   # an item rated twice
    assert not (trained & held) - repeated
