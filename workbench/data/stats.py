"""Summary statistics of stored datasets, computed from the workspace tables (no torch)."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np


PERCENTILES = (5, 25, 50, 75, 95)


def list_datasets(ws) -> list[dict[str, Any]]:
    from workbench.store import datasets
    return datasets.summaries(ws)


def dataset_stats(ws, name: str) -> dict[str, Any]:
    """users, items, interactions, time span, sequence-length percentiles, sparsity, actions."""
    from workbench.store import dataset_content, datasets
    db = ws.db
    meta = datasets.require(ws, name)
    did, n_u, n_i, n_e = meta["id"], meta["n_users"], meta["n_items"], meta["n_interactions"]
    lengths = np.asarray(dataset_content.history_lengths(db, did), dtype=np.int64)
    seq = {f"p{q}": float(np.percentile(lengths, q)) for q in PERCENTILES} if len(lengths) else {}
    seq.update({"min": int(lengths.min()), "max": int(lengths.max()), "mean": float(lengths.mean())}
               if len(lengths) else {})
    out: dict[str, Any] = {
        "name": name, "id": did, "format": meta["format"], "users": n_u, "items": n_i, "interactions": n_e,
        "has_timestamps": bool(meta["has_timestamps"]),
        "sparsity": 1.0 - n_e / (n_u * n_i) if n_u and n_i else None,
        "sequence_length": seq, "fingerprint": meta["fingerprint"],
        "options": json.loads(meta["options"]), "source_files": json.loads(meta["source_files"]),
    }
    if meta["has_timestamps"]:
        t0, t1 = dataset_content.time_range(db, did)
        out["time_span"] = {"start": t0, "end": t1, "days": (t1 - t0) / 86400.0}
    else:
        out["time_span"] = None
    out["actions"] = {a if a is not None else "(none)": n for a, n in dataset_content.action_counts(db, did)}
    return out


def format_stats(s: dict[str, Any]) -> str:
    """Human-readable lines for the CLI."""
    from datetime import datetime, timezone

    lines = [f"dataset {s['name']} ({s['format']})",
             f"  users {s['users']:,}  items {s['items']:,}  interactions {s['interactions']:,}",
             f"  sparsity {s['sparsity']:.4%}" if s["sparsity"] is not None else "  sparsity n/a"]
    if s["time_span"]:
        fmt = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M")  # noqa: E731
        ts = s["time_span"]
        lines.append(f"  time span {fmt(ts['start'])} .. {fmt(ts['end'])} UTC ({ts['days']:.1f} days)")
    else:
        lines.append("  time span: none (order only)")
    q = s["sequence_length"]
    if q:
        lines.append("  sequence length " + "  ".join(f"{k} {q[k]:g}" for k in
                                                      ("p5", "p25", "p50", "p75", "p95", "max")))
    if s["actions"]:
        lines.append("  actions " + ", ".join(f"{a} {n:,}" for a, n in s["actions"].items()))
    lines.append(f"  fingerprint {s['fingerprint'][:16]}")
    return "\n".join(lines)


# ------------------------------------------------------------------ plots
def _histogram(values: np.ndarray, bins: int = 20) -> tuple[list[str], list[int]]:
    if values.size == 0:
        return [], []
    hi = int(np.percentile(values, 99)) + 1
    edges = np.unique(np.linspace(values.min(), max(hi, values.min() + 1), bins + 1).astype(int))
    counts, edges = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return [str(int(e)) for e in edges[:-1]], counts.tolist()


def distributions(ws, dataset_id: int) -> dict[str, Any]:
    """Counts, history-length histogram, item popularity (long tail) and activity over time of a dataset:
    what the app's Datasets screen plots (counts from :mod:`workbench.store.dataset_content`, numpy);
    call it from a thread for big datasets."""
    from workbench.store import dataset_content, datasets
    meta = datasets.by_id(ws, dataset_id)
    if meta is None:
        raise KeyError(f"no dataset with id {dataset_id} in {ws.path}")
    lengths = np.array(dataset_content.history_lengths(ws.db, dataset_id), dtype=np.int64)
    pop = np.array(sorted(dataset_content.item_counts(ws.db, dataset_id), reverse=True), dtype=np.int64)
    activity: tuple[list[str], list[int]] = ([], [])
    if meta["has_timestamps"]:
        rows = dataset_content.daily_counts(ws.db, dataset_id)
        if rows:
            days = np.array([r[0] for r in rows])
            counts = np.array([r[1] for r in rows])
            span = days[-1] - days[0] + 1
            width = max(1, int(np.ceil(span / 40)))  # at most ~40 bars
            buckets = (days - days[0]) // width
            summed = np.bincount(buckets, weights=counts).astype(int)
            labels = [time.strftime("%Y-%m-%d", time.gmtime(float((days[0] + b * width) * 86400)))
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
