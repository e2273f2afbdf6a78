"""Numpy -> tensors: padded (rows, L) training windows and evaluation batches.

No per-sample Python in the hot loop: training rows are (user, first event, end) triples
(:class:`TrainingWindows`) that the trainer indexes with a shuffled permutation, and each
batch's (B, L) tensors are cut from the event arrays with a few vectorised gathers.
Left padding, latest event at L-1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch

from workbench.data.dataset import LoadedDataset, Split, event_indices, ragged_arange
from workbench.engine.eval_types import EvalBatch
from workbench.model.base import DataContext, SeqBatch
from workbench.model.sequences import ItemSequences


def _windows(ds: LoadedDataset, starts: np.ndarray, ends: np.ndarray, L: int):
    """Source event indices of the last L events before ``ends`` (exclusive), not before ``starts``.

    -> src (R, L) int64 absolute event indices, valid (R, L) bool. Column L-1 is event ends-1.
    """
    src = ends[:, None] - L + np.arange(L)[None, :]
    valid = src >= starts[:, None]
    return np.where(valid, src, 0), valid


@dataclass
class SequenceTensors:
    """R sequences as (R, L) tensors (CPU); ``batch(index)`` gathers a :class:`SeqBatch`."""

    items: torch.Tensor
    targets: torch.Tensor
    users: torch.Tensor
    timestamps: torch.Tensor
    target_timestamps: torch.Tensor
    actions: torch.Tensor
    target_actions: torch.Tensor
    target_values: torch.Tensor | None = None   # (R, L) float32 value (rating) of each target; None: no values

    def __len__(self) -> int:
        return self.items.shape[0]

    def batch(self, index: torch.Tensor | None, trim: bool = False) -> SeqBatch:
        """Rows ``index`` (None: every row) as a batch; ``trim``: without the leading columns that are
        padding in every row (the batch is as wide as its longest sequence; the latest event stays
        at the last column)."""
        L = self.items.shape[1]
        lengths = self.lengths if index is None else self.lengths[index]
        cols = slice(L - max(1, int(lengths.max())), L) if trim and len(lengths) else slice(None)

        def rows(x: torch.Tensor) -> torch.Tensor:
            return x[:, cols].contiguous() if index is None else x[index, cols]
        return SeqBatch(rows(self.items), rows(self.targets), self.users if index is None else self.users[index],
                        rows(self.timestamps), rows(self.target_timestamps), rows(self.actions),
                        rows(self.target_actions), rows(self.target_values) if self.target_values is not None else None)

    @property
    def num_targets(self) -> int:
        """Positions with a target over all rows."""
        return int((self.targets > 0).sum())

    @cached_property
    def lengths(self) -> torch.Tensor:
        """(R,) long: real events per row."""
        return (self.items > 0).sum(1)

    @cached_property
    def row_targets(self) -> torch.Tensor:
        """(R,) long: targets per row."""
        return (self.targets > 0).sum(1)


class TrainingWindows:
    """Training rows cut per batch: only each row's (user, first event, end) is kept, O(rows),
    and :meth:`batch` builds the requested rows' (B, L) tensors when asked, so training memory is
    O(events) whatever ``max_len`` is. Every batch is identical to the same rows of
    :func:`training_tensors` (rows are built independently of each other)."""

    COUNT_ROWS = 1 << 16        # rows per chunk when counting events and targets at construction

    def __init__(self, ds: LoadedDataset, users: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_len: int):
        self.ds, self.max_len = ds, max_len
        self.users = torch.from_numpy(np.asarray(users, dtype=np.int64))     # (R,) as SequenceTensors.users
        self.starts, self.ends = starts, ends
        lengths, targets = [], []
        for s in range(0, len(users), self.COUNT_ROWS):
            src, valid = _windows(ds, starts[s:s + self.COUNT_ROWS], ends[s:s + self.COUNT_ROWS], max_len)
            nxt = np.minimum(src + 1, len(ds.items) - 1)
            lengths.append(((ds.items[src] > 0) & valid).sum(1))
            targets.append(((ds.items[nxt] > 0) & valid).sum(1))
        self.lengths = torch.from_numpy(np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64))
        self.row_targets = torch.from_numpy(np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def num_targets(self) -> int:
        return int(self.row_targets.sum())

    def rows(self, index: torch.Tensor) -> SequenceTensors:
        """Rows ``index`` as (len(index), L) tensors."""
        i = index.numpy()
        return _tensors(self.ds, self.users.numpy()[i], self.starts[i], self.ends[i], self.max_len, with_targets=True)

    def batch(self, index: torch.Tensor, trim: bool = False) -> SeqBatch:
        """Rows ``index`` as a batch, as :meth:`SequenceTensors.batch`."""
        return self.rows(index).batch(None, trim)

    def tensors(self) -> SequenceTensors:
        """Every row at once (O(rows x L) memory: for inspection, not for the training loop)."""
        return self.rows(torch.arange(len(self)))

def epoch_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                  by_length: bool = False, pool: int = 64) -> list[torch.Tensor]:
    """Row indices of each step of one epoch: a seeded permutation cut into batches.

    ``by_length``: the permutation is cut into pools of ``pool`` batches, each pool is sorted by
    sequence length and cut into batches, and the batches are shuffled, so a batch holds
    sequences of similar length and, trimmed (``SequenceTensors.batch(trim=True)``), carries
    little padding. Every row is still used exactly once per epoch.
    """
    order = torch.randperm(len(lengths), generator=generator)
    if not by_length:
        return list(order.split(batch_size))
    batches: list[torch.Tensor] = []
    for chunk in order.split(batch_size * pool):
        by_len = chunk[torch.sort(lengths[chunk], stable=True).indices]
        batches.extend(by_len.split(batch_size))
    shuffle = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in shuffle.tolist()]


WEEK_S = 7 * 86400.0


def time_origins(ts: np.ndarray, valid: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """(R,) float64 per-row time origins: a whole number of weeks since the Unix epoch, at
    least one week before the row's earliest event (and ``extra``, e.g. the evaluated event).

    Timestamps travel as float32 relative to this origin: absolute Unix seconds (~1.7e9) in
    float32 are only good to 128 s, relative ones to 1 s within 194 days of the row's first
    event (8 s over three years). Whole weeks keep hour of day and day of week computed from
    the relative values right, and every real event stays > 0 (0 is padding).
    """
    first = np.where(valid, ts, np.inf).min(axis=1)
    if extra is not None:
        first = np.minimum(first, extra)
    first = np.where(np.isfinite(first), first, 0.0)
    return (np.floor(first / WEEK_S) - 1) * WEEK_S


def _tensors(ds: LoadedDataset, users: np.ndarray, starts: np.ndarray, ends: np.ndarray, L: int,
             with_targets: bool, target_pos: np.ndarray | None = None) -> SequenceTensors:
    """Inputs are events [starts, ends); the target of event e is event e+1 (when ``with_targets``).
    ``target_pos``: the evaluated event of each row; its time and action go to the last column of
    ``target_timestamps`` / ``target_actions``. Real timestamps are made relative to
    :func:`time_origins` (positions, when the data has no time, are left as they are)."""
    src, valid = _windows(ds, starts, ends, L)
    nxt = np.minimum(src + 1, len(ds.items) - 1)
    items = np.where(valid, ds.items[src], 0)
    ts = np.where(valid, ds.timestamps[src], 0.0)
    acts = np.where(valid, ds.actions[src], 0)
    tts = np.where(valid, ds.timestamps[nxt], 0.0)
    tacts = np.where(valid, ds.actions[nxt], 0)
    tvals = np.where(valid, ds.values[nxt], np.nan) if ds.values is not None else None
    tmask = valid.copy()
    if target_pos is not None:
        tts[:, -1], tacts[:, -1], tmask[:, -1] = ds.timestamps[target_pos], ds.actions[target_pos], True
        if tvals is not None:
            tvals[:, -1] = ds.values[target_pos]
    elif not with_targets:        # recommending after the last event: no next event, ask "now" = its time
        tts[:, -1], tacts[:, -1] = ts[:, -1], 0
        if tvals is not None:
            tvals[:, -1] = np.nan
    if ds.has_timestamps:
        origin = time_origins(ts, valid, ds.timestamps[target_pos] if target_pos is not None else None)[:, None]
        ts = np.where(valid, ts - origin, 0.0)
        tts = np.where(tmask, tts - origin, 0.0)
    targets = np.where(valid, ds.items[nxt], 0) if with_targets else np.zeros_like(items)
    t = torch.from_numpy
    return SequenceTensors(t(items), t(targets), t(np.asarray(users, dtype=np.int64)), t(ts).float(),
                           t(tts).float(), t(acts), t(tacts), t(tvals).float() if tvals is not None else None)


def training_tensors(ds: LoadedDataset, split: Split, max_len: int, windows: str = "last") -> SequenceTensors:
    """Every training row as (R, L) tensors; see :func:`training_rows`."""
    return _tensors(ds, *training_rows(ds, split, max_len, windows), max_len, with_targets=True)


def training_windows(ds: LoadedDataset, split: Split, max_len: int, windows: str = "last") -> TrainingWindows:
    """The training rows of :func:`training_rows`, cut per batch (memory O(events))."""
    return TrainingWindows(ds, *training_rows(ds, split, max_len, windows), max_len)


def training_rows(ds: LoadedDataset, split: Split, max_len: int, windows: str = "last"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, starts, ends) of the training rows for users with >= 2 training events: inputs = training events but the last,
    targets = the next training event at every position (SASRec-style: every position trains).

    ``windows="last"``: one row per user, its latest ``max_len`` targets; earlier events only
    appear as targets when the history fits in the window. ``windows="all"``: the history is cut
    into consecutive windows of ``max_len`` targets ending at the latest one, so every training
    event is a target once per epoch (what feeding every prefix does, without the L-fold cost).
    """
    if windows not in ("last", "all"):
        raise ValueError(f"windows must be 'last' or 'all', not {windows!r}")
    users = np.arange(1, ds.n_users + 1)
    starts = ds.offsets[users]
    ends = split.train_end[users]
    keep = ends - starts >= 2
    users, starts, ends = users[keep], starts[keep], ends[keep]
    ends = ends - 1                                   # the last training event is only a target
    if windows == "all":
        n_windows = -(-(ends - starts) // max_len)    # ceil: windows of max_len inputs each
        row_user = np.repeat(np.arange(len(users)), n_windows)
        back = ragged_arange(n_windows)               # 0 = the latest window of its user
        users, win_ends = users[row_user], ends[row_user] - back * max_len
        starts = np.maximum(starts[row_user], win_ends - max_len)
        ends = win_ends
    return users, starts, ends


def eval_batches(ds: LoadedDataset, users: np.ndarray, positions: np.ndarray, max_len: int,
                 batch_size: int) -> list[EvalBatch]:
    """One case per (user, pos): history = the user's events before ``pos`` (last ``max_len`` of them),
    target = event ``pos``; ``seen`` = every item of the full history except the target item."""
    users = np.asarray(users, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    out = []
    for s in range(0, len(users), batch_size):
        u, p = users[s:s + batch_size], positions[s:s + batch_size]
        starts = ds.offsets[u]
        seq = _tensors(ds, u, starts, p, max_len, with_targets=False, target_pos=p)
        lengths = p - starts
        rows = np.repeat(np.arange(len(u)), lengths)
        seen = ds.items[event_indices(starts, p)]
        targets = ds.items[p]
        keep = seen != targets[rows]
        out.append(EvalBatch(
            batch=seq.batch(torch.arange(len(u))), target_items=torch.from_numpy(targets.copy()),
            seen_rows=torch.from_numpy(rows[keep]), seen_items=torch.from_numpy(seen[keep]),
            history_length=torch.from_numpy(lengths.astype(np.int64)), users=torch.from_numpy(u.copy())))
    return out


def history_batch(ds: LoadedDataset, user: int, max_len: int, upto: int | None = None) -> tuple[SeqBatch, np.ndarray]:
    """A one-row batch of the user's events before absolute position ``upto`` (default: all of them),
    for recommending the next item. -> (batch, full history item ids)."""
    start, end = int(ds.offsets[user]), int(ds.offsets[user + 1] if upto is None else upto)
    seq = _tensors(ds, np.array([user]), np.array([start]), np.array([end]), max_len, with_targets=False)
    return seq.batch(torch.arange(1)), ds.items[start:end]


def new_history_events(ds: LoadedDataset, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(items, timestamps, actions) for a person ``ds`` never saw, from their item ids (oldest first).
    Their events carry the dataset's most common action; with timestamps, they are spaced by the
    dataset's median gap between a user's consecutive events and end at the dataset's latest event
    (without, positions as always)."""
    items = np.asarray(items, dtype=np.int64)
    n = len(items)
    counts = np.bincount(ds.actions, minlength=2)
    actions = np.full(n, int(counts[1:].argmax()) + 1 if counts[1:].any() else 0, dtype=np.int64)
    if ds.has_timestamps and len(ds.timestamps) > 1:
        same_user = np.ones(len(ds.timestamps) - 1, dtype=bool)     # gap j: event j -> j + 1
        starts = ds.offsets[1:ds.n_users + 1]
        same_user[starts[(starts > 0) & (starts < len(ds.timestamps))] - 1] = False
        gaps = np.diff(ds.timestamps)[same_user]
        gap = float(np.median(gaps)) if len(gaps) else 0.0
        times = float(ds.timestamps.max()) - gap * np.arange(n - 1, -1, -1, dtype=np.float64)
    else:
        times = np.arange(n, dtype=np.float64)
    return items, times, actions


def events_batch(ds: LoadedDataset, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], users: np.ndarray,
                 max_len: int) -> SeqBatch:
    """A batch with one row per ``(items, timestamps, actions)`` event list (oldest first; the
    latest ``max_len`` are kept), for recommending the next item after each. ``users`` (R,): the
    dataset's user index of each row (0 for a person it never saw). Items, actions and times are
    those of ``ds``'s vocabulary; times are made relative as for every batch."""
    lengths = np.asarray([len(r[0]) for r in rows], dtype=np.int64)
    ends = np.cumsum(lengths)
    flat = [np.concatenate([np.asarray(r[k]) for r in rows] + [np.zeros(1)]) for k in range(3)]  # + 1 unused
    one = replace(ds, items=flat[0].astype(np.int64), timestamps=flat[1].astype(np.float64),
                  actions=flat[2].astype(np.int64))
    seq = _tensors(one, np.asarray(users, dtype=np.int64), ends - lengths, ends, max_len, with_targets=False)
    return seq.batch(torch.arange(len(rows)))


def item_popularity(ds: LoadedDataset, split: Split) -> np.ndarray:
    """(N+1,) float training interaction counts."""
    return np.bincount(train_sequences(ds, split).values, minlength=ds.n_items + 1).astype(np.float64)


def train_sequences(ds: LoadedDataset, split: Split) -> ItemSequences:
    """Every user's training items (index 0: no user), as two columns (no Python object per event).
    The events are picked with a one-byte mask (+1 at each user's first event, -1 at the end of
    their training events, summed): ~2 bytes per event besides the result, where gathering by
    absolute event indices would need ~40."""
    users = np.arange(1, ds.n_users + 1)
    starts, ends = ds.offsets[users], split.train_end[users]
    offsets = np.zeros(ds.n_users + 2, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[2:])
    edges = np.zeros(len(ds.items) + 1, dtype=np.int8)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    inside = np.cumsum(edges[:-1], dtype=np.int8).view(np.bool_)
    return ItemSequences(offsets, ds.items[inside])


def data_context(ds: LoadedDataset, split: Split, max_len: int, workspace=None,
                 held_out_items: np.ndarray | None = None) -> DataContext:
    """Everything plugins may see: training data only (no validation/test events);
    ``held_out_items`` (N+1,) bool: the items the cold-start protocol keeps out of training."""
    sequences = train_sequences(ds, split)
    popularity = np.bincount(sequences.values, minlength=ds.n_items + 1).astype(np.float64)
    return DataContext(
        num_items=ds.n_items, num_users=ds.n_users, max_len=max_len, has_timestamps=ds.has_timestamps,
        item_titles=ds.item_titles, item_texts=ds.item_texts, item_categories=ds.item_categories,
        user_attributes=ds.user_attributes, actions=ds.action_names, train_sequences=sequences,
        item_popularity=torch.from_numpy(popularity).float(), workspace=workspace,
        item_raw_ids=ds.item_raw_ids,
        held_out_items=None if held_out_items is None else torch.from_numpy(held_out_items))
