"""Run groups (repeated seeds, tuning studies) and the run facts a paired comparison needs.

A group is one ``run_groups`` row; its runs point to it through ``runs.group_id``. ``kind`` is
``seeds`` (one experiment, N seeds) or ``tune`` (an Optuna study: one run per trial).

A group driven by one process (a study's worker or foreground ``tune``, a foreground ``run --seeds``)
records that process: pid, start time and host (:func:`set_group_driver`). When that process is gone
(SIGKILL, OOM killer) while the group is still queued or running, :func:`reap_orphaned_groups` marks
the group failed with the reason, like a dead worker's job; a group whose runs are background jobs
records no process (its status follows its runs').
"""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.liveness import pid_alive, process_started, this_host
from workbench.store import runs
from workbench.store.rows import write

GROUP_KINDS = ("seeds", "tune")
ACTIVE = ("queued", "running")


def create_group(ws, kind: str, name: str, spec: dict[str, Any], experiment_id: int | None = None,
                 status: str = "running") -> int:
    if kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r} (one of {GROUP_KINDS})")
    with ws.db.conn:
        cur = ws.db.execute("INSERT INTO run_groups (kind, name, experiment_id, spec, status, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            [kind, name, experiment_id, json.dumps(spec), status, time.time()])
    return int(cur.lastrowid)


def add_run(ws, group_id: int, run_id: int) -> None:
    with ws.db.conn:
        ws.db.execute("UPDATE runs SET group_id = ? WHERE id = ?", [group_id, run_id])


def run_experiment_id(ws, run_id: int) -> int | None:
    row = ws.db.execute("SELECT experiment_id FROM runs WHERE id = ?", [run_id]).fetchone()
    return row[0] if row else None


def set_group_status(ws, group_id: int, status: str, error: str | None = None) -> None:
    finished = time.time() if status in ("completed", "failed", "cancelled") else None
    with ws.db.conn:
        ws.db.execute("UPDATE run_groups SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                      [status, error, finished, group_id])


def set_group_driver(ws, group_id: int, pid: int) -> None:
    """Record process ``pid`` of this host (with its start time) as the one driving the group."""
    with ws.db.conn:
        ws.db.execute("UPDATE run_groups SET pid = ?, pid_started = ?, host = ? WHERE id = ?",
                      [pid, process_started(pid), this_host(), group_id])


def driver_alive(pid: int | None, host: str | None, started: float | None) -> bool:
    """A group's process is alive, as far as this host can tell: on another host a pid cannot be
    checked (and a group keeps no heartbeat), so it counts as alive."""
    if host and host != this_host():
        return True
    return pid_alive(pid, started)


def reap_orphaned_groups(ws) -> list[int]:
    """Mark queued or running groups whose recorded process is gone as failed (``"process N died"``),
    and their runs that never started (queued, no job queued or running for them) failed with them;
    returns the group ids. Runs that were training are the runs reaper's (``leases.reap_orphaned_runs``)."""
    rows = ws.db.execute("SELECT id, pid, host, pid_started FROM run_groups WHERE pid IS NOT NULL AND status IN "
                         "('queued', 'running')").fetchall()
    gone = [r for r in rows if not driver_alive(r[1], r[2], r[3])]
    reaped: list[int] = []
    if not gone:
        return reaped
    now = time.time()
    with write(ws) as conn:
        for group_id, pid, *_ in gone:
            current = conn.execute("SELECT pid, host, pid_started, status FROM run_groups WHERE id = ?",
                                   [group_id]).fetchone()
            if current is None or current[3] not in ACTIVE or current[0] != pid or driver_alive(*current[:3]):
                continue   # finished, or taken over by a live process, since the first read
            message = f"process {pid} died"
            conn.execute("UPDATE run_groups SET status = 'failed', error = COALESCE(error, ?), finished_at = ? "
                         "WHERE id = ?", [message, now, group_id])
            never_started = [r[0] for r in conn.execute(
                "SELECT id FROM runs WHERE group_id = ? AND status = 'queued' AND NOT EXISTS (SELECT 1 FROM jobs j "
                "WHERE j.run_id = runs.id AND j.status IN ('queued', 'running'))", [group_id])]
            for run_id in never_started:
                why = f"never started: the process driving group g{group_id} ({pid}) died"
                if runs.transition(conn, run_id, "failed", only_from=("queued",), keep_error=True, finished_at=now,
                                   error=why):
                    runs.add_event(conn, run_id, now, "error", "run_failed", why, None)
            reaped.append(group_id)
    return reaped
def update_spec(ws, group_id: int, spec: dict[str, Any]) -> None:
    with ws.db.conn:
        ws.db.execute("UPDATE run_groups SET spec = ? WHERE id = ?", [json.dumps(spec), group_id])


def request_cancel(ws, group_id: int) -> None:
    with ws.db.conn:
        ws.db.execute("UPDATE run_groups SET cancel_requested = 1 WHERE id = ?", [group_id])


def cancel_requested(ws, group_id: int) -> bool:
    row = ws.db.execute("SELECT cancel_requested FROM run_groups WHERE id = ?", [group_id]).fetchone()
    return bool(row and row[0])


def _group(row: dict) -> dict:
    out = dict(row)
    out["spec"] = json.loads(out["spec"]) if out.get("spec") else {}
    return out


def get_group(ws, group_id: int) -> dict | None:
    rows = list(ws.db.query("SELECT * FROM run_groups WHERE id = ?", [group_id]))
    return _group(rows[0]) if rows else None


def list_groups(ws, kind: str | None = None) -> list[dict]:
    sql = ("SELECT g.*, (SELECT COUNT(*) FROM runs r WHERE r.group_id = g.id) AS num_runs, "
           "(SELECT GROUP_CONCAT(r.status) FROM runs r WHERE r.group_id = g.id) AS run_statuses FROM run_groups g"
           + (" WHERE g.kind = ?" if kind else "") + " ORDER BY g.id DESC")
    return [_group(r) for r in ws.db.query(sql, [kind] if kind else [])]


def group_runs(ws, group_id: int) -> list[dict]:
    """The group's runs in creation order: id, name, status, seed, best_epoch, test_metrics (parsed), config (parsed)."""
    out = []
    for r in ws.db.query("SELECT id, name, status, seed, best_epoch, test_metrics, config FROM runs "
                         "WHERE group_id = ? ORDER BY id", [group_id]):
        r = dict(r)
        r["test_metrics"] = json.loads(r["test_metrics"]) if r["test_metrics"] else None
        r["config"] = json.loads(r["config"]) if r["config"] else {}
        out.append(r)
    return out


def run_groups_of(ws, run_ids: list[int]) -> dict[int, int | None]:
    """run id -> its group id (None when ungrouped) for the given runs."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    return {r[0]: r[1] for r in ws.db.execute(f"SELECT id, group_id FROM runs WHERE id IN ({marks})",
                                               list(run_ids)).fetchall()}


def run_facts(ws, run_id: int) -> dict | None:
    """What pairing needs to know of a run: id, name, status, dataset (id, name), fingerprint, group, best epoch,
    parsed config and test metrics."""
    rows = list(ws.db.query("SELECT r.id, r.name, r.status, r.dataset_id, d.name AS dataset, r.data_fingerprint, "
                            "r.config, r.group_id, r.best_epoch, r.test_metrics FROM runs r "
                            "LEFT JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?", [run_id]))
    if not rows:
        return None
    row = dict(rows[0])
    for key in ("config", "test_metrics"):
        row[key] = json.loads(row[key]) if row[key] else {}
    return row
