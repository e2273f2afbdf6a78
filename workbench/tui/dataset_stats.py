"""Dataset statistics for the Datasets screen: lengths histogram, popularity long tail, activity over time.

Plain SQL + numpy on a workspace connection; call it from a thread worker for big datasets.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _histogram(values: np.ndarray, bins: int = 20) -> tuple[list[str], list[int]]:
    if values.size == 0:
        return [], []
    hi = int(np.percentile(values, 99)) + 1
    edges = np.unique(np.linspace(values.min(), max(hi, values.min() + 1), bins + 1).astype(int))
    counts, edges = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return [str(int(e)) for e in edges[:-1]], counts.tolist()


def dataset_stats(ws, dataset_id: int) -> dict[str, Any]:
    meta = dict(next(iter(ws.db.query("SELECT * FROM datasets WHERE id = ?", [dataset_id]))))
    lengths = np.array([r[0] for r in ws.db.execute(
        "SELECT COUNT(*) FROM interactions WHERE dataset_id = ? GROUP BY user", [dataset_id])], dtype=np.int64)
    pop = np.array(sorted((r[0] for r in ws.db.execute(
        "SELECT COUNT(*) FROM interactions WHERE dataset_id = ? GROUP BY item", [dataset_id])), reverse=True),
        dtype=np.int64)
    activity: tuple[list[str], list[int]] = ([], [])
    if meta["has_timestamps"]:
        rows = list(ws.db.execute(
            "SELECT CAST(ts / 86400 AS INTEGER) AS day, COUNT(*) FROM interactions "
            "WHERE dataset_id = ? AND ts IS NOT NULL GROUP BY day ORDER BY day", [dataset_id]))
        if rows:
            days = np.array([r[0] for r in rows])
            counts = np.array([r[1] for r in rows])
            span = days[-1] - days[0] + 1
            width = max(1, int(np.ceil(span / 40)))  # at most ~40 bars
            buckets = (days - days[0]) // width
            summed = np.bincount(buckets, weights=counts).astype(int)
            import time as _t
            labels = [_t.strftime("%Y-%m-%d", _t.gmtime(float((days[0] + b * width) * 86400)))
                      for b in range(len(summed))]
            activity = (labels, summed.tolist())
    n_u, n_i, n = meta["n_users"], meta["n_items"], meta["n_interactions"]
    top = max(1, len(pop) // 10)
    return {
        "name": meta["name"], "format": meta["format"], "users": n_u, "items": n_i, "interactions": n,
        "density": n / max(1, n_u * n_i), "has_timestamps": bool(meta["has_timestamps"]),
        "length_mean": float(lengths.mean()) if lengths.size else 0.0,
        "length_median": float(np.median(lengths)) if lengths.size else 0.0,
        "length_max": int(lengths.max()) if lengths.size else 0,
        "top10pct_share": float(pop[:top].sum() / max(1, pop.sum())) if pop.size else 0.0,
        "length_hist": _histogram(lengths),
        "popularity": (list(range(1, len(pop) + 1)), pop.tolist()),
        "activity": activity,
    }
