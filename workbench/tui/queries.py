"""Cheap, torch-free workspace queries the screens poll (runs, curves, events, experiments).

Every function takes an open :class:`workbench.store.Workspace` and returns
plain data, so screens stay thin and the same code serves tests.
"""

from __future__ import annotations

import json
import time
from typing import Any


def _json(value: str | None, default: Any = None) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


def list_runs(ws) -> list[dict[str, Any]]:
    """All runs, newest first, with parsed progress/test metrics, dataset and experiment names."""
    rows = ws.db.query("""
        SELECT r.id, r.name, r.status, r.device, r.progress, r.test_metrics, r.best_epoch, r.error,
               r.created_at, r.started_at, r.finished_at, r.dataset_id,
               COALESCE(d.name, json_extract(r.config, '$.dataset') || ' (deleted)') AS dataset,
               e.name AS experiment
        FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id LEFT JOIN experiments e ON e.id = r.experiment_id
        ORDER BY r.id DESC""")
    out = []
    for r in rows:
        r = dict(r)
        r["progress"] = _json(r["progress"], {})
        r["test_metrics"] = _json(r["test_metrics"], {})
        out.append(r)
    return out


def run_detail(ws, run_id: int) -> dict[str, Any] | None:
    rows = list(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        return None
    r = dict(rows[0])
    for key in ("progress", "test_metrics", "config", "versions"):
        r[key] = _json(r.get(key), {})
    return r


def epoch_metrics(ws, run_id: int) -> list[dict[str, Any]]:
    """Per-epoch rows: epoch, train_loss, metrics (dict), wall_time."""
    return [{"epoch": r["epoch"], "train_loss": r["train_loss"], "metrics": _json(r["metrics"], {}),
             "wall_time": r["wall_time"]}
            for r in ws.db.query("SELECT epoch, train_loss, metrics, wall_time FROM epoch_metrics "
                                 "WHERE run_id = ? ORDER BY epoch", [run_id])]


def run_events(ws, run_id: int, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query(
        "SELECT id, ts, level, kind, message FROM run_events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
        [run_id, after_id, limit])]


def metric_names(rows: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in rows:
        for k in (r.get("metrics") or r.get("test_metrics") or {}):
            if k not in names:
                names.append(k)
    return names


def compare_rows(ws) -> list[dict[str, Any]]:
    """One row per finished or running run: id, name, status, dataset, best epoch and every test metric.

    Runs without test metrics fall back to their best validation metrics.
    """
    out = []
    for r in list_runs(ws):
        metrics = dict(r["test_metrics"] or {})
        if not metrics:
            ems = epoch_metrics(ws, r["id"])
            if ems:
                best = next((e for e in ems if e["epoch"] == r["best_epoch"]), ems[-1])
                metrics = {f"val:{k}": v for k, v in best["metrics"].items()}
        out.append({"id": r["id"], "name": r["name"] or f"run {r['id']}", "status": r["status"],
                    "dataset": r["dataset"] or "", "best_epoch": r["best_epoch"], "metrics": metrics})
    return out


# ------------------------------------------------------------------ experiments
def list_experiments(ws) -> list[dict[str, Any]]:
    return [{"id": r["id"], "name": r["name"], "config": _json(r["config"], {}), "updated_at": r["updated_at"]}
            for r in ws.db.query("SELECT id, name, config, updated_at FROM experiments ORDER BY name")]


def save_experiment(ws, name: str, config: dict[str, Any]) -> int:
    """Insert or replace experiment ``name``; returns its id."""
    now = time.time()
    conn = ws.db.conn
    with conn:
        row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        if row:
            conn.execute("UPDATE experiments SET config = ?, updated_at = ? WHERE id = ?",
                         (json.dumps(config), now, row[0]))
            return int(row[0])
        cur = conn.execute("INSERT INTO experiments (name, config, created_at, updated_at) VALUES (?, ?, ?, ?)",
                           (name, json.dumps(config), now, now))
        return int(cur.lastrowid)


def load_experiment(ws, name: str) -> dict[str, Any] | None:
    row = ws.db.execute("SELECT config FROM experiments WHERE name = ?", [name]).fetchone()
    return _json(row[0], {}) if row else None


def list_datasets(ws) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query(
        "SELECT id, name, format, n_users, n_items, n_interactions, has_timestamps, created_at FROM datasets ORDER BY name")]


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


# ------------------------------------------------------------------ inspect
def find_user(ws, dataset_id: int, text: str) -> int | None:
    """A user by raw id, else by internal number; None when absent."""
    text = text.strip()
    row = ws.db.execute("SELECT user FROM users WHERE dataset_id = ? AND raw_id = ?", [dataset_id, text]).fetchone()
    if row:
        return int(row[0])
    if text.isdigit():
        row = ws.db.execute("SELECT user FROM users WHERE dataset_id = ? AND user = ?",
                            [dataset_id, int(text)]).fetchone()
        if row:
            return int(row[0])
    return None


def first_user(ws, dataset_id: int) -> tuple[int, str] | None:
    row = ws.db.execute("SELECT user, raw_id FROM users WHERE dataset_id = ? ORDER BY user LIMIT 1",
                        [dataset_id]).fetchone()
    return (int(row[0]), row[1]) if row else None


def user_history(ws, dataset_id: int, user: int, limit: int = 200) -> list[dict[str, Any]]:
    """The user's last ``limit`` events, oldest first: pos, item, raw id, title, ts, action."""
    rows = ws.db.query("""
        SELECT i.pos, i.item, i.ts, i.action, it.raw_id, it.title FROM interactions i
        LEFT JOIN items it ON it.dataset_id = i.dataset_id AND it.item = i.item
        WHERE i.dataset_id = ? AND i.user = ? ORDER BY i.pos DESC LIMIT ?""", [dataset_id, user, limit])
    return list(reversed([dict(r) for r in rows]))


def completed_runs(ws) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query(
        "SELECT r.id, r.name, d.id AS dataset_id, "
        "COALESCE(d.name, json_extract(r.config, '$.dataset') || ' (deleted)') AS dataset "
        "FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id "
        "WHERE r.status = 'completed' ORDER BY r.id DESC")]


def runs_of_dataset(ws, dataset_id: int) -> int:
    """How many runs were trained on the dataset."""
    return int(ws.db.execute("SELECT COUNT(*) FROM runs WHERE dataset_id = ?", [dataset_id]).fetchone()[0])
