"""A stored dataset loaded into flat numpy arrays, and its train/valid/test split.

Layout: events of user u (1..U) are ``items[offsets[u]:offsets[u+1]]`` in
chronological order; index 0 of every per-user or per-item list is padding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


from workbench.store.datasets import DatasetNotFound  # noqa: F401 - raised by load_dataset


@dataclass
class LoadedDataset:
    id: int
    name: str
    n_users: int
    n_items: int
    has_timestamps: bool
    fingerprint: str
    options: dict[str, Any]
    offsets: np.ndarray          # (U+2,) int64
    items: np.ndarray            # (E,) int64, 1..N
    timestamps: np.ndarray       # (E,) float64 seconds; positions 0..len-1 when the data has no time
    actions: np.ndarray          # (E,) int64 action ids, 0 = none
    action_names: list[str] = field(default_factory=list)   # action id a -> action_names[a-1]
    item_raw_ids: list[str] = field(default_factory=list)   # (N+1,)
    item_titles: list[str] = field(default_factory=list)
    item_texts: list[str] = field(default_factory=list)
    item_categories: list[list[str]] = field(default_factory=list)
    user_raw_ids: list[str] = field(default_factory=list)   # (U+1,)
    user_attributes: list[dict[str, Any]] = field(default_factory=list)
    values: np.ndarray | None = None   # (E,) float64 event values (ratings), NaN where missing; None: no values

    def sequence(self, user: int) -> np.ndarray:
        return self.items[self.offsets[user]:self.offsets[user + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """(U+1,) events per user."""
        return np.diff(self.offsets)[: self.n_users + 1]


def ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """``concat(arange(n) for n in lengths)`` without a Python loop: the index inside each segment."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def event_indices(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Absolute event indices of the ranges ``[starts[r], ends[r])``, concatenated in row order."""
    lengths = ends - starts
    return np.repeat(starts, lengths) + ragged_arange(lengths)


def load_dataset(ws, name: str) -> LoadedDataset:
    """Read dataset ``name`` from an open workspace into numpy arrays.

    The interaction arrays come memory-mapped from the columnar cache
    (:mod:`workbench.data.columns`, read-only arrays) when it matches the dataset's
    fingerprint; otherwise from the database, and the cache is (re)written for next time.
    """
    from workbench.data import columns
    from workbench.store import dataset_content, datasets
    db = ws.db
    meta = datasets.require(ws, name)
    did, n_users, n_items = meta["id"], meta["n_users"], meta["n_items"]
    cached = columns.read_cache(ws, meta)
    if cached is None:
        arrays, action_names = _interactions_from_db(db, meta)
        columns.write_cache(ws, meta, arrays, action_names)
    else:
        arrays, action_names = cached
    offsets, items, timestamps, actions_np = (arrays[a] for a in columns.ARRAYS)

    item_raw, titles, texts, cats = [""] * (n_items + 1), [""] * (n_items + 1), [""] * (n_items + 1), \
        [[] for _ in range(n_items + 1)]
    conn = db.conn
    for k, raw_id, title, text, categories in dataset_content.items(conn, did):
        item_raw[k], titles[k], texts[k] = raw_id, title or "", text or ""
        if categories and categories != "[]":
            cats[k] = json.loads(categories)
    user_raw, attrs = [""] * (n_users + 1), [{} for _ in range(n_users + 1)]
    for u, raw_id, attributes in dataset_content.users(conn, did):
        user_raw[u] = raw_id
        if attributes and attributes != "{}":
            attrs[u] = json.loads(attributes)
    return LoadedDataset(
        id=did, name=name, n_users=n_users, n_items=n_items, has_timestamps=bool(meta["has_timestamps"]),
        fingerprint=meta["fingerprint"], options=json.loads(meta["options"]), offsets=offsets,
        items=items, timestamps=timestamps, actions=actions_np,
        action_names=action_names, item_raw_ids=item_raw, item_titles=titles, item_texts=texts,
        item_categories=cats, user_raw_ids=user_raw, user_attributes=attrs, values=arrays.get("values"))


def _interactions_from_db(db, meta) -> tuple[dict[str, np.ndarray], list[str]]:
    """The load-time arrays read from the interactions table (the cache's fallback)."""
    n_users = meta["n_users"]
    from workbench.store import dataset_content
    cur = dataset_content.interactions(db, meta["id"])
    users, items, ts, actions, values = [], [], [], [], []
    for u, i, t, a, v in cur:
        users.append(u)
        items.append(i)
        ts.append(t)
        actions.append(a)
        values.append(v)
    users_np = np.asarray(users, dtype=np.int64)
    counts = np.bincount(users_np, minlength=n_users + 2)[: n_users + 2]
    offsets = np.zeros(n_users + 2, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)[:-1]
    offsets[-1] = len(users_np)
    if meta["has_timestamps"]:
        timestamps = np.asarray(ts, dtype=np.float64)
    else:
        timestamps = (np.arange(len(users_np)) - offsets[users_np]).astype(np.float64)
    action_names = sorted({a for a in actions if a is not None})
    action_index = {a: k + 1 for k, a in enumerate(action_names)}
    actions_np = np.asarray([action_index.get(a, 0) for a in actions], dtype=np.int64)
    arrays = {"offsets": offsets, "items": np.asarray(items, dtype=np.int64), "timestamps": timestamps,
              "actions": actions_np}
    if any(v is not None for v in values):
        arrays["values"] = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return arrays, action_names


@dataclass
class Split:
    """Which events train, and which single events are validation / test targets.

    Training events of user u are ``[offsets[u], train_end[u])``. An evaluation
    case is (user, pos): the target is ``items[pos]`` and the history is every
    event of that user before ``pos``.
    """

    kind: str
    train_end: np.ndarray      # (U+1,) absolute offsets
    valid_users: np.ndarray
    valid_pos: np.ndarray
    test_users: np.ndarray
    test_pos: np.ndarray


def leave_one_out(ds: LoadedDataset, valid_users: int = 0, seed: int = 0) -> Split:
    """Last event = test, second last = validation, the rest trains (users with < 3 events: all train).

    ``valid_users`` > 0: only that many users (drawn with ``seed`` among those with >= 3 events)
    hold their second-last event out for validation; every other user trains on it. This is the
    protocol of gSASRec / SASRec+ (a validation sample of users instead of every user's
    second-last event): the test target then follows a trained event for most users.
    """
    users = np.arange(1, ds.n_users + 1)
    start, end = ds.offsets[1:ds.n_users + 1], ds.offsets[2:ds.n_users + 2]
    length = end - start
    ok = length >= 3
    validated = ok.copy()
    if 0 < valid_users < int(ok.sum()):
        chosen = np.random.default_rng(seed).choice(np.flatnonzero(ok), size=valid_users, replace=False)
        validated[:] = False
        validated[chosen] = True
    train_end = np.zeros(ds.n_users + 1, dtype=np.int64)
    train_end[1:] = np.where(validated, end - 2, np.where(ok, end - 1, end))
    return Split("loo", train_end, users[validated], end[validated] - 2, users[ok], end[ok] - 1)


def temporal_split(ds: LoadedDataset, valid_frac: float = 0.1, test_frac: float = 0.1) -> Split:
    """Global time split: events before the (1 - valid - test) time quantile train; each user's
    first event in the validation window is a validation target, first in the test window a test target."""
    if not ds.has_timestamps:
        raise ValueError(f"dataset {ds.name!r} has no timestamps; a temporal split needs them (use loo)")
    t_valid, t_test = np.quantile(ds.timestamps, [1 - valid_frac - test_frac, 1 - test_frac])
    train_end = np.zeros(ds.n_users + 1, dtype=np.int64)
    vu, vp, tu, tp = [], [], [], []
    for u in range(1, ds.n_users + 1):
        s, e = ds.offsets[u], ds.offsets[u + 1]
        t = ds.timestamps[s:e]
        n_train = int(np.searchsorted(t, t_valid, side="left"))
        n_pre_test = int(np.searchsorted(t, t_test, side="left"))
        train_end[u] = s + n_train
        if n_train > 0 and n_train < n_pre_test:
            vu.append(u)
            vp.append(s + n_train)
        if n_pre_test > 0 and n_pre_test < e - s:
            tu.append(u)
            tp.append(s + n_pre_test)
    as_np = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return Split("temporal", train_end, as_np(vu), as_np(vp), as_np(tu), as_np(tp))


def make_split(ds: LoadedDataset, kind: str = "loo", **kwargs) -> Split:
    if kind == "loo":
        return leave_one_out(ds, **kwargs)
    if kind == "temporal":
        return temporal_split(ds, **kwargs)
    raise ValueError(f"unknown split {kind!r} (use 'loo' or 'temporal')")
