"""Preprocessing: stable chronological order, dedupe, iterative k-core, rating threshold, id remapping."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.formats import make_reader
from workbench.data.preprocess import PreprocessOptions, fingerprint, kcore_mask, preprocess
from workbench.kinds import RawDataset
from workbench.options import ConfigError


def raw(rows, with_time=True, with_value=False):
    """rows: (user, item, ts[, value]) tuples in file order."""
    return RawDataset(users=[r[0] for r in rows], items=[r[1] for r in rows],
                      timestamps=[r[2] for r in rows] if with_time else None,
                      values=[r[3] for r in rows] if with_value else None)


def as_events(p):
    """[(raw user, raw item, pos)] in stored order."""
    return [(p.user_raw[u], p.item_raw[i], int(k)) for u, i, k in zip(p.user, p.item, p.pos)]


def test_chronological_order_with_file_order_breaking_ties():
    p = preprocess(raw([("b", "x", 5), ("a", "y", 9), ("b", "z", 1), ("a", "w", 9), ("a", "v", 3)]))
    # users sorted by raw id; within a user by time; equal times keep file order (y before w)
    assert as_events(p) == [("a", "v", 0), ("a", "y", 1), ("a", "w", 2), ("b", "z", 0), ("b", "x", 1)]
    assert p.ts.tolist() == [3, 9, 9, 1, 5]


def test_without_timestamps_file_order_is_the_order():
    p = preprocess(raw([("2", "9", 0), ("1", "8", 0), ("2", "7", 0), ("1", "9", 0)], with_time=False))
    assert p.ts is None
    assert as_events(p) == [("1", "8", 0), ("1", "9", 1), ("2", "9", 0), ("2", "7", 1)]


def test_ids_are_contiguous_by_sorted_raw_id_numeric_when_all_integers():
    p = preprocess(raw([("10", "30", 1), ("9", "200", 2), ("10", "4", 3)]))
    assert p.user_raw == ["", "9", "10"]              # numeric order, not "10" < "9"
    assert p.item_raw == ["", "4", "30", "200"]
    assert sorted(set(p.user.tolist())) == [1, 2] and sorted(set(p.item.tolist())) == [1, 2, 3]
    q = preprocess(raw([("b", "i10", 1), ("a", "i9", 2)]))
    assert q.user_raw == ["", "a", "b"] and q.item_raw == ["", "i10", "i9"]  # string order


def test_dedupe_keeps_first_or_last_occurrence_in_time():
    rows = [("u", "a", 1), ("u", "b", 2), ("u", "a", 3), ("u", "c", 4)]
    first = preprocess(raw(rows), PreprocessOptions(dedupe="first"))
    assert [e[1] for e in as_events(first)] == ["a", "b", "c"] and first.ts.tolist() == [1, 2, 4]
    last = preprocess(raw(rows), PreprocessOptions(dedupe="last"))
    assert [e[1] for e in as_events(last)] == ["b", "a", "c"] and last.ts.tolist() == [2, 3, 4]
    assert first.removed["dedupe"] == last.removed["dedupe"] == 1
    assert len(preprocess(raw(rows))) == 4


def test_kcore_is_iterative():
    # Item "rare" has 1 interaction; dropping it leaves user "c" with 1 interaction, which then
    # drops, which leaves item "z" with 1 interaction, which drops too.
    rows = [("a", "x", 1), ("a", "y", 2), ("b", "x", 1), ("b", "y", 2), ("c", "rare", 1), ("c", "z", 2),
            ("a", "z", 3)]
    p = preprocess(raw(rows), PreprocessOptions(kcore_users=2, kcore_items=2))
    assert p.user_raw == ["", "a", "b"] and p.item_raw == ["", "x", "y"]
    assert len(p) == 4 and p.removed["kcore"] == 3
    users, counts_u = np.unique(p.user, return_counts=True)
    assert counts_u.min() >= 2


def test_kcore_on_real_ml100k_holds_for_every_user_and_item(shared_datasets):
    reader, _ = make_reader("movielens_100k", {"side_files": False})
    r = reader.read(shared_datasets / "ml-100k")
    p = preprocess(r, PreprocessOptions(min_rating=4, kcore_users=10, kcore_items=10))
    assert np.bincount(p.user)[1:].min() >= 10
    assert np.bincount(p.item)[1:].min() >= 10
    assert (p.value >= 4).all()
    assert p.removed["min_rating"] == int((np.asarray(r.values) < 4).sum())
    assert p.user.tolist() == sorted(p.user.tolist())
    for u in (1, p.n_users):  # each user's events are in time order and pos counts from 0
        mask = p.user == u
        assert np.all(np.diff(p.ts[mask]) >= 0)
        assert p.pos[mask].tolist() == list(range(mask.sum()))
    assert kcore_mask(p.user, p.item, 10, 10).all()  # a k-core is a fixed point


def test_min_rating_needs_values_and_temporal_split_needs_time():
    with pytest.raises(ConfigError, match="min_rating"):
        preprocess(raw([("u", "i", 1)]), PreprocessOptions(min_rating=3))
    with pytest.raises(ConfigError, match="temporal"):
        preprocess(raw([("u", "i", 1)], with_time=False), PreprocessOptions(split="temporal"))


def test_fingerprint_is_stable_and_sensitive():
    rows = [("u", "a", 1), ("u", "b", 2), ("v", "a", 3)]
    a, b = preprocess(raw(rows)), preprocess(raw(list(rows)))
    assert fingerprint(a) == fingerprint(b)
    c = preprocess(raw([("u", "a", 1), ("u", "b", 2), ("v", "a", 4)]))
    assert fingerprint(a) != fingerprint(c)
    shuffled = preprocess(raw([rows[2], rows[0], rows[1]]))  # file order of different users is irrelevant
    assert fingerprint(shuffled) == fingerprint(a)
