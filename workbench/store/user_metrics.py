"""Per-user metrics of a run's evaluation splits: one float32 blob per (run, split, metric).

Layout (see migration ``m005_research``): ``eval_users`` holds, per (run, split), the evaluated
user ids in ascending order as int32 little-endian; each ``user_metrics`` row holds one metric's
values for those users, in the same order, as float32 little-endian (NaN where a metric is
undefined for a user). 6,040 users x 20 metrics is about 0.5 MB per split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.store.leases import fenced

USER_DTYPE = np.dtype("<i4")
VALUE_DTYPE = np.dtype("<f4")


@dataclass
class SplitUserMetrics:
    """Per-user metrics of one split of one run: ``users`` (U,) ascending, ``metrics`` name -> (U,) float32."""

    users: np.ndarray
    metrics: dict[str, np.ndarray]


def sorted_by_user(users: np.ndarray, metrics: dict[str, np.ndarray]) -> SplitUserMetrics:
    """Reorder evaluation-order arrays by ascending user id. Raises ValueError on a repeated user
    or a metric array whose length differs from ``users``."""
    users = np.asarray(users, dtype=np.int64)
    order = np.argsort(users, kind="stable")
    ordered = users[order]
    if ordered.size > 1 and (np.diff(ordered) == 0).any():
        raise ValueError("per-user metrics need one evaluation case per user; a user appears twice")
    out = {}
    for name, values in metrics.items():
        values = np.asarray(values)
        if values.shape != users.shape:
            raise ValueError(f"per-user metric {name!r} has shape {values.shape}, expected {users.shape}")
        out[name] = values[order].astype(VALUE_DTYPE)
    return SplitUserMetrics(ordered, out)


def save_split(ws, run_id: int, split: str, data: SplitUserMetrics, token: int | None = None) -> None:
    """Store (replacing any earlier values) the per-user metrics of ``split`` for ``run_id``, atomically.

    ``token``: the trainer's run owner lease (see :mod:`workbench.store.leases`); the write is
    refused with ``LeaseLost`` when another trainer took the run over (None: unfenced, for tools)."""
    with fenced(ws, run_id, token) as conn:
        conn.execute("DELETE FROM user_metrics WHERE run_id = ? AND split = ?", [run_id, split])
        conn.execute("INSERT OR REPLACE INTO eval_users (run_id, split, num_users, users) VALUES (?, ?, ?, ?)",
                     [run_id, split, int(data.users.size), data.users.astype(USER_DTYPE).tobytes()])
        for name, values in data.metrics.items():
            conn.execute("INSERT INTO user_metrics (run_id, split, metric, vector) VALUES (?, ?, ?, ?)",
                         [run_id, split, name, np.asarray(values, dtype=VALUE_DTYPE).tobytes()])


def load_split(ws, run_id: int, split: str, metrics: list[str] | None = None) -> SplitUserMetrics | None:
    """The stored per-user metrics of ``split`` (only ``metrics`` when given), or None when none were stored."""
    head = ws.db.execute("SELECT num_users, users FROM eval_users WHERE run_id = ? AND split = ?",
                         [run_id, split]).fetchone()
    if head is None:
        return None
    users = np.frombuffer(head[1], dtype=USER_DTYPE).astype(np.int64)
    out = {}
    for name, blob in ws.db.execute("SELECT metric, vector FROM user_metrics WHERE run_id = ? AND split = ? "
                                    "ORDER BY rowid", [run_id, split]).fetchall():
        if metrics is not None and name not in metrics:
            continue
        values = np.frombuffer(blob, dtype=VALUE_DTYPE)
        if values.size != users.size:
            raise ValueError(f"run {run_id}, split {split}: metric {name!r} holds {values.size} values "
                             f"for {users.size} users (corrupt workspace?)")
        out[name] = values.copy()
    return SplitUserMetrics(users, out)


def stored_splits(ws, run_id: int) -> list[str]:
    return [r[0] for r in ws.db.execute("SELECT split FROM eval_users WHERE run_id = ? ORDER BY split",
                                        [run_id]).fetchall()]
