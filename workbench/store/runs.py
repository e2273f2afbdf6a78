"""Run rows and the run state machine: every change of ``runs.status`` goes through :func:`transition`.

States: ``queued -> running -> completed | failed | cancelled``; a cancelled or failed run can be
``running`` again (resume); a completed run is final. Besides the status, this module writes what
a run records while it trains (progress snapshot, epoch metrics, events) and reads runs back for
the CLI, the app and the engine. Torch-free.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.store.rows import loads, write

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
ACTIVE = ("queued", "running")

# status -> the statuses it may change to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("running", "cancelled", "failed"),
    "running": ("completed", "failed", "cancelled"),
    "failed": ("running",),
    "cancelled": ("running",),
    "completed": (),
}

# columns other than status that code may set (names are interpolated into SQL: keep this closed)
COLUMNS = frozenset({"experiment_id", "name", "dataset_id", "config", "device", "versions", "data_fingerprint",
                     "seed", "progress", "test_metrics", "test_groups", "best_epoch", "error", "started_at",
                     "finished_at"})


class RunNotFound(KeyError):
    """No run with that id."""


class RunStateError(RuntimeError):
    """A status change the run state machine does not allow (e.g. a completed run made running again)."""


def check_transition(old: str, new: str, run_id: int | None = None) -> None:
    if new not in TRANSITIONS:
        raise ValueError(f"not a run status: {new!r}")
    if new not in TRANSITIONS.get(old, ()):
        which = f"run {run_id}" if run_id is not None else "a run"
        hint = " (a completed run is final)" if old == "completed" else ""
        raise RunStateError(f"{which} is {old}; it cannot become {new}{hint}")


def _sets(values: dict[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(values) - COLUMNS
    if unknown:
        raise ValueError(f"unknown run column(s): {sorted(unknown)}")
    return ", ".join(f"{k} = ?" for k in values), list(values.values())


# ------------------------------------------------------------------ writes
def insert(conn, *, experiment_id: int | None, name: str, dataset_id: int, config: dict, seed: int | None,
           data_fingerprint: str | None, now: float | None = None) -> int:
    """Insert a ``queued`` run inside the caller's transaction; returns its id."""
    cur = conn.execute(
        "INSERT INTO runs (experiment_id, name, dataset_id, status, config, seed, data_fingerprint, created_at) "
        "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
        [experiment_id, name, dataset_id, json.dumps(config), seed, data_fingerprint, now or time.time()])
    return int(cur.lastrowid)


def transition(conn, run_id: int, new: str, *, only_from: tuple[str, ...] | None = None, keep_error: bool = False,
               **values: Any) -> bool:
    """Change run ``run_id`` to status ``new`` (and set ``values``) inside the caller's transaction.

    With ``only_from``, a run in another status is left alone and False is returned; a change the
    state machine forbids raises :class:`RunStateError`. ``keep_error`` keeps an error already stored.
    """
    row = conn.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise RunNotFound(f"no run {run_id}")
    old = row[0]
    if only_from is not None and old not in only_from:
        return False
    check_transition(old, new, run_id)
    sets, params = _sets(values)
    if keep_error and "error" in values:
        sets = sets.replace("error = ?", "error = COALESCE(error, ?)")
    conn.execute(f"UPDATE runs SET status = ?{', ' + sets if sets else ''} WHERE id = ?", [new, *params, run_id])
    return True


def set_status(ws, run_id: int, new: str, *, only_from: tuple[str, ...] | None = None, keep_error: bool = False,
               **values: Any) -> bool:
    """:func:`transition` in its own write transaction."""
    with write(ws) as conn:
        return transition(conn, run_id, new, only_from=only_from, keep_error=keep_error, **values)


def set_columns(conn, run_id: int, **values: Any) -> None:
    """Set columns other than the status inside the caller's transaction."""
    sets, params = _sets(values)
    conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*params, run_id])


def update(ws, run_id: int, **values: Any) -> None:
    """Set columns other than the status (see :data:`COLUMNS`)."""
    sets, params = _sets(values)
    with write(ws) as conn:
        conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*params, run_id])


def delete(ws, run_id: int) -> None:
    """Delete a run with its epochs, events, checkpoint rows and jobs (files are the caller's)."""
    with write(ws) as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", [run_id])


def set_progress(conn, run_id: int, progress_json: str) -> None:
    conn.execute("UPDATE runs SET progress = ? WHERE id = ?", [progress_json, run_id])


def record_epoch(conn, run_id: int, epoch: int, train_loss: float | None, metrics_json: str,
                 wall_time: float | None, ts: float) -> None:
    conn.execute("INSERT OR REPLACE INTO epoch_metrics (run_id, epoch, train_loss, metrics, wall_time, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)", [run_id, epoch, train_loss, metrics_json, wall_time, ts])


def add_event(conn, run_id: int, ts: float, level: str, kind: str, message: str, data_json: str | None) -> None:
    conn.execute("INSERT INTO run_events (run_id, ts, level, kind, message, data) VALUES (?, ?, ?, ?, ?, ?)",
                 [run_id, ts, level, kind, message, data_json])


# ------------------------------------------------------------------ reads
def get(ws, run_id: int) -> dict[str, Any] | None:
    """The run's row as stored (JSON columns as text), None when absent."""
    rows = list(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    return dict(rows[0]) if rows else None


def require(ws, run_id: int) -> dict[str, Any]:
    row = get(ws, run_id)
    if row is None:
        raise RunNotFound(f"no run {run_id} in {ws.path}")
    return row


def status(ws, run_id: int) -> str | None:
    row = ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    return row[0] if row else None


JSON_COLUMNS = ("config", "versions", "progress", "test_metrics", "test_groups")


def detail(ws, run_id: int) -> dict[str, Any] | None:
    """The run with its dataset's name and JSON columns parsed (None when absent)."""
    rows = list(ws.db.query("SELECT r.*, d.name AS dataset FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id "
                            "WHERE r.id = ?", [run_id]))
    if not rows:
        return None
    row = dict(rows[0])
    for k in JSON_COLUMNS:
        row[k] = loads(row.get(k))
    return row


def summaries(ws) -> list[dict[str, Any]]:
    """Every run, newest first: id, name, status, dataset, device, best epoch, test metrics (parsed), created_at,
    group_id (its seeds group or tuning study, None when ungrouped)."""
    rows = [dict(r) for r in ws.db.query(
        "SELECT r.id, r.name, r.status, d.name AS dataset, r.device, r.best_epoch, r.test_metrics, r.created_at, "
        "r.group_id FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id ORDER BY r.id DESC")]
    for r in rows:
        r["test_metrics"] = loads(r["test_metrics"])
    return rows


def epochs(ws, run_id: int) -> list[dict[str, Any]]:
    """Per-epoch rows: epoch, train_loss, wall_time, metrics (parsed)."""
    return [{"epoch": r["epoch"], "train_loss": r["train_loss"], "wall_time": r["wall_time"],
             "metrics": loads(r["metrics"], {})}
            for r in ws.db.query("SELECT * FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id])]


def checkpoints(ws, run_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query(
        "SELECT epoch, path, sha256, is_best FROM checkpoints WHERE run_id = ? ORDER BY id", [run_id])]


def events(ws, run_id: int, after_id: int = 0) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query("SELECT id, ts, level, kind, message, data FROM run_events "
                                         "WHERE run_id = ? AND id > ? ORDER BY id", [run_id, after_id])]


def using_dataset(ws, dataset_id: int) -> list[dict[str, Any]]:
    """Runs recorded on dataset ``dataset_id``: id, name, status."""
    return [dict(r) for r in ws.db.query("SELECT id, name, status FROM runs WHERE dataset_id = ? ORDER BY id",
                                         [dataset_id])]


class DataChanged(ValueError):
    """The run's dataset is gone or holds other data than the run was trained on."""


def check_data(ws, row: dict[str, Any]) -> dict[str, Any]:
    """The dataset row run ``row`` was trained on, after checking it still holds the same data.

    Raises :class:`DataChanged` when the dataset was removed or replaced by different data
    (its fingerprint differs from the one stored with the run): a model must never serve,
    explain, be evaluated or resume on data it was not trained on.
    """
    from workbench.store import datasets
    name = (loads(row.get("config"), {}) or {}).get("dataset") if isinstance(row.get("config"), str) \
        else (row.get("config") or {}).get("dataset")
    current = datasets.find(ws, name) if name else None
    if current is None:
        raise DataChanged(f"run {row['id']} was trained on dataset {name!r}, which is no longer in {ws.path}; "
                          "its model cannot be used on other data (train a new run)")
    stored = row.get("data_fingerprint")
    if stored and stored != current["fingerprint"]:
        raise DataChanged(f"run {row['id']} was trained on other data than dataset {name!r} now holds "
                          f"(fingerprint {stored[:12]} at training, {current['fingerprint'][:12]} now: it was "
                          "re-imported or replaced); train a new run on it")
    return current


DATASET_OR_DELETED = "COALESCE(d.name, json_extract(r.config, '$.dataset') || ' (deleted)')"


def monitor_list(ws) -> list[dict[str, Any]]:
    """Every run, newest first, for the app's monitor: status, progress and test metrics (parsed), error,
    timings, dataset name ("NAME (deleted)" once its dataset is gone) and experiment name."""
    rows = [dict(r) for r in ws.db.query(f"""
        SELECT r.id, r.name, r.status, r.device, r.progress, r.test_metrics, r.best_epoch, r.error, r.config,
               r.created_at, r.started_at, r.finished_at, r.dataset_id, {DATASET_OR_DELETED} AS dataset,
               e.name AS experiment
        FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id LEFT JOIN experiments e ON e.id = r.experiment_id
        ORDER BY r.id DESC""")]
    for r in rows:
        r["progress"] = loads(r["progress"], {})
        r["test_metrics"] = loads(r["test_metrics"], {})
        r["config"] = loads(r["config"], {})
    return rows


def completed_list(ws) -> list[dict[str, Any]]:
    """Completed runs, newest first: id, name, dataset_id (None once deleted), dataset name."""
    return [dict(r) for r in ws.db.query(
        f"SELECT r.id, r.name, d.id AS dataset_id, {DATASET_OR_DELETED} AS dataset "
        "FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id WHERE r.status = 'completed' ORDER BY r.id DESC")]
