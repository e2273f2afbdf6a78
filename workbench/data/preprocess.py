"""Reproducible preprocessing of raw interactions: filter, order, dedupe, k-core, remap ids.

The steps, always in this order:

1. ``min_rating``: keep interactions whose value (rating) is >= the threshold (implicit feedback).
2. Chronological order with a stable tie rule: sort by (user, timestamp, file order).
   Without timestamps the file order within a user is the order.
3. ``dedupe``: for repeated (user, item) pairs keep the ``first`` or ``last`` in that order.
4. Iterative k-core: drop users with < ``kcore_users`` and items with < ``kcore_items``
   interactions, repeating until both hold.
5. Contiguous ids: 0 is padding; users 1..U and items 1..N are numbered in the order
   of their **sorted raw ids** (numeric order when every raw id is an integer, string
   order otherwise). This keeps ids stable when rows are added or reordered, and
   it leaves already-contiguous ids (e.g. SASRec's ``ml-1m.txt``) unchanged.

Everything is numpy on (E,) arrays; no torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.kinds import CodedColumn, RawDataset
from workbench.options import ConfigError, option


@dataclass
class PreprocessOptions:
    min_rating: float | None = option(None, help="Keep interactions with rating >= this (implicit feedback)")
    dedupe: str = option("none", help="Repeated (user, item) pairs: keep all, the first or the last",
                         choices=["none", "first", "last"])
    kcore_users: int = option(0, help="Iteratively drop users with fewer interactions", min=0)
    kcore_items: int = option(0, help="Iteratively drop items with fewer interactions", min=0)
    split: str = option("loo", help="Default split: leave-one-out or global temporal",
                        choices=["loo", "temporal"])
    valid_frac: float = option(0.1, help="Temporal split: validation fraction of time", min=0.0, max=0.5)
    test_frac: float = option(0.1, help="Temporal split: test fraction of time", min=0.0, max=0.5)


ID_ORDER = "sorted_raw_id"
TIE_RULE = "user, timestamp, file order"


@dataclass
class Processed:
    """Interactions after preprocessing, sorted by (user, pos).

    ``user``/``item``/``pos`` (E,) int64 with users 1..U and items 1..N;
    ``ts``/``value`` (E,) float64 or None; ``action`` list of E strings or None;
    ``user_raw`` (U+1,) and ``item_raw`` (N+1,) raw ids, index 0 = "" (padding).
    """

    user: np.ndarray
    item: np.ndarray
    pos: np.ndarray
    ts: np.ndarray | None
    value: np.ndarray | None
    action: list[str] | None
    user_raw: list[str]
    item_raw: list[str]
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_raw) - 1

    @property
    def n_items(self) -> int:
        return len(self.item_raw) - 1

    def __len__(self) -> int:
        return len(self.user)


def factorize(values) -> tuple[np.ndarray, list[str]]:
    """(codes (E,) int64, uniques in first-seen order); a :class:`CodedColumn` already is that."""
    if isinstance(values, CodedColumn):
        return np.asarray(values.codes, dtype=np.int64), values.uniques
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(index)


def raw_order(uniques: list[str]) -> np.ndarray:
    """rank[k] = position of uniques[k] in sorted order (numeric if all are integers, else string)."""
    if uniques and all(u.isdigit() for u in uniques):
        order = _numeric_order(uniques)
    else:
        order = sorted(range(len(uniques)), key=lambda k: uniques[k])
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(uniques))
    return rank


def _numeric_order(uniques: list[str]) -> np.ndarray | list[int]:
    """Indexes of ``uniques`` (all digit strings) by (int value, string): numpy when the values fit
    in int64 and are distinct (no "7" next to "007"), else the exact Python sort."""
    if max(map(len, uniques)) <= 18:
        ints = np.fromiter(map(int, uniques), dtype=np.int64, count=len(uniques))
        order = np.argsort(ints, kind="stable")
        if len(order) < 2 or bool((np.diff(ints[order]) > 0).all()):
            return order
    return sorted(range(len(uniques)), key=lambda k: (int(uniques[k]), uniques[k]))


def kcore_mask(u: np.ndarray, i: np.ndarray, k_users: int, k_items: int) -> np.ndarray:
    """Boolean (E,) mask of the interactions that survive the iterative k-core."""
    keep = np.ones(len(u), dtype=bool)
    if k_users <= 1 and k_items <= 1:
        return keep
    nu, ni = (int(u.max()) + 1, int(i.max()) + 1) if len(u) else (0, 0)
    while True:
        cu = np.bincount(u[keep], minlength=nu)
        ci = np.bincount(i[keep], minlength=ni)
        new = keep & (cu[u] >= k_users) & (ci[i] >= k_items)
        if new.sum() == keep.sum():
            return new
        keep = new


def preprocess(raw: RawDataset, opts: PreprocessOptions | None = None) -> Processed:
    opts = opts or PreprocessOptions()
    if opts.valid_frac + opts.test_frac >= 1.0:
        raise ConfigError("valid_frac + test_frac must be below 1")
    if opts.split == "temporal" and raw.timestamps is None:
        raise ConfigError("split: 'temporal' needs timestamps, and this data has none (use 'loo')")
    n = len(raw.users)
    if len(raw.items) != n:
        raise ValueError("reader returned users and items of different lengths")
    removed: dict[str, int] = {}
    ucode, uniq_u = factorize(raw.users)
    icode, uniq_i = factorize(raw.items)
    ts = np.asarray(raw.timestamps, dtype=np.float64) if raw.timestamps is not None else None
    value = np.asarray(raw.values, dtype=np.float64) if raw.values is not None else None
    idx = np.arange(n)

    if opts.min_rating is not None:
        if value is None:
            raise ConfigError("min_rating: this data has no ratings/values to threshold")
        keep = value >= opts.min_rating
        removed["min_rating"] = int(n - keep.sum())
        idx = idx[keep]

    urank = raw_order(uniq_u)
    if ts is not None:
        order = np.lexsort((ts[idx], urank[ucode[idx]]))  # stable: ties keep file order
    else:
        order = np.argsort(urank[ucode[idx]], kind="stable")
    idx = idx[order]

    if opts.dedupe != "none" and len(idx):
        pair = ucode[idx] * (len(uniq_i) + 1) + icode[idx]
        if opts.dedupe == "first":
            _, first = np.unique(pair, return_index=True)
        else:
            _, rev_first = np.unique(pair[::-1], return_index=True)
            first = len(pair) - 1 - rev_first
        keep = np.zeros(len(idx), dtype=bool)
        keep[first] = True
        removed["dedupe"] = int(len(idx) - keep.sum())
        idx = idx[keep]

    if opts.kcore_users > 1 or opts.kcore_items > 1:
        keep = kcore_mask(ucode[idx], icode[idx], opts.kcore_users, opts.kcore_items)
        removed["kcore"] = int(len(idx) - keep.sum())
        idx = idx[keep]

    # contiguous ids by sorted raw id among the survivors
    used_u = np.unique(ucode[idx])
    used_u = used_u[np.argsort(urank[used_u], kind="stable")]
    umap = np.zeros(len(uniq_u), dtype=np.int64)
    umap[used_u] = np.arange(1, len(used_u) + 1)
    irank = raw_order(uniq_i)
    used_i = np.unique(icode[idx])
    used_i = used_i[np.argsort(irank[used_i], kind="stable")]
    imap = np.zeros(len(uniq_i), dtype=np.int64)
    imap[used_i] = np.arange(1, len(used_i) + 1)

    user = umap[ucode[idx]]
    item = imap[icode[idx]]
    starts = np.zeros(len(used_u) + 2, dtype=np.int64)
    starts[1:] = np.cumsum(np.bincount(user, minlength=len(used_u) + 1))
    pos = np.arange(len(user), dtype=np.int64) - starts[user]
    return Processed(
        user=user, item=item, pos=pos,
        ts=ts[idx] if ts is not None else None,
        value=value[idx] if value is not None else None,
        action=_take_actions(raw.actions, idx),
        user_raw=[""] + [uniq_u[k] for k in used_u.tolist()],
        item_raw=[""] + [uniq_i[k] for k in used_i.tolist()],
        removed=removed)


def _take_actions(actions, idx: np.ndarray) -> list[str] | None:
    if actions is None:
        return None
    if isinstance(actions, CodedColumn):
        names = np.asarray(actions.uniques + [""], dtype=object)
        return names[np.asarray(actions.codes)[idx]].tolist()
    return [actions[k] for k in idx.tolist()]


def fingerprint(p: Processed) -> str:
    """sha256 over the processed interactions (ids, positions, times, values, actions): stable across runs."""
    h = hashlib.sha256()
    h.update(b"workbench-interactions-v1")
    for name, arr in (("user", p.user), ("item", p.item), ("pos", p.pos)):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arr, dtype="<i8").tobytes())
    for name, arr in (("ts", p.ts), ("value", p.value)):
        h.update(name.encode())
        h.update(b"none" if arr is None else np.ascontiguousarray(arr, dtype="<f8").tobytes())
    h.update(b"action")
    h.update(b"none" if p.action is None else "\x1f".join(a or "" for a in p.action).encode())
    return h.hexdigest()


def options_dict(opts: PreprocessOptions) -> dict[str, Any]:
    return dataclasses.asdict(opts)
