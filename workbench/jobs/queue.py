"""The job queue in the workspace: enqueue, claim atomically, heartbeat, finish, cancel, reap.

A job is one execution attempt of a run on one device. Workers claim the
oldest queued job of their device inside an ``IMMEDIATE`` transaction, so two
workers never get the same job and at most one job runs per device. A worker
that died (SIGKILL, OOM killer, power cut) is detected by pid liveness or a
stale heartbeat; its job and run are then marked failed with
``"worker process N died"``, keeping every metric written before.

Torch-free: the CLI and the TUI import this module.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
HEARTBEAT_S = 2.0
STALE_AFTER_S = 60.0


class JobError(RuntimeError):
    """A job operation that cannot be done (unknown id, wrong status)."""


@dataclass
class Job:
    id: int
    run_id: int
    status: str
    device: str
    resume: bool
    pid: int | None
    host: str | None
    cancel_requested: bool
    heartbeat: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Job":
        return cls(row["id"], row["run_id"], row["status"], row["device"], bool(row["resume"]), row["pid"],
                   row["host"], bool(row["cancel_requested"]), row["heartbeat"], row["created_at"],
                   row["started_at"], row["finished_at"], row["error"])


def _conn(ws):
    return ws.db.conn


def enqueue(ws, run_id: int, device: str = "auto", *, resume: bool = False) -> int:
    """Queue run ``run_id`` for execution on ``device``; returns the job id.

    Refused when the run does not exist or already has a queued or running job.
    """
    conn = _conn(ws)
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        run = conn.execute("SELECT id, status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise JobError(f"no run with id {run_id}")
        busy = conn.execute("SELECT id, status FROM jobs WHERE run_id = ? AND status IN ('queued', 'running')",
                            (run_id,)).fetchone()
        if busy is not None:
            raise JobError(f"run {run_id} already has job {busy[0]} ({busy[1]})")
        cur = conn.execute("INSERT INTO jobs (run_id, status, device, resume, created_at) VALUES (?, 'queued', ?, ?, ?)",
                           (run_id, device or "auto", int(resume), time.time()))
        return int(cur.lastrowid)


def get_job(ws, job_id: int) -> Job:
    rows = list(ws.db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
    if not rows:
        raise JobError(f"no job with id {job_id}")
    return Job.from_row(rows[0])


def latest_job_for_run(ws, run_id: int) -> Job | None:
    rows = list(ws.db.query("SELECT * FROM jobs WHERE run_id = ? ORDER BY id DESC LIMIT 1", [run_id]))
    return Job.from_row(rows[0]) if rows else None


def list_jobs(ws, *, include_finished: bool = True, limit: int = 200) -> list[dict[str, Any]]:
    """Jobs newest first, joined with their run's name, status and progress snapshot (dead workers reaped first)."""
    reap_dead(ws)
    where = "" if include_finished else "WHERE j.status IN ('queued', 'running')"
    rows = ws.db.query(f"""
        SELECT j.*, r.name AS run_name, r.status AS run_status, r.progress AS progress, r.test_metrics AS test_metrics
        FROM jobs j JOIN runs r ON r.id = j.run_id {where} ORDER BY j.id DESC LIMIT ?""", [limit])
    out = []
    for row in rows:
        row = dict(row)
        for key in ("progress", "test_metrics"):
            try:
                row[key] = json.loads(row[key]) if row[key] else None
            except ValueError:
                row[key] = None
        out.append(row)
    return out


def pid_alive(pid: int | None) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that its parent has not waited for yet is a zombie: dead for us
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _is_dead(pid: int | None, host: str | None, heartbeat: float | None, now: float) -> bool:
    if host and host != socket.gethostname():
        return heartbeat is None or now - heartbeat > STALE_AFTER_S
    return not pid_alive(pid) or (heartbeat is not None and now - heartbeat > STALE_AFTER_S)


def reap_dead(ws) -> list[int]:
    """Mark running jobs whose worker is gone as failed (and their runs); returns their job ids."""
    now = time.time()
    suspects = list(ws.db.query("SELECT id, run_id, pid, host, heartbeat FROM jobs WHERE status = 'running'"))
    dead = [r for r in suspects if _is_dead(r["pid"], r["host"], r["heartbeat"], now)]
    if not dead:
        return []
    conn = _conn(ws)
    reaped = []
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for r in dead:
            message = f"worker process {r['pid']} died"
            cur = conn.execute("UPDATE jobs SET status = 'failed', finished_at = ?, error = ? "
                               "WHERE id = ? AND status = 'running' AND pid IS ?", (now, message, r["id"], r["pid"]))
            if cur.rowcount:
                reaped.append(r["id"])
                conn.execute("UPDATE runs SET status = 'failed', finished_at = ?, error = COALESCE(error, ?) "
                             "WHERE id = ? AND status IN ('running', 'queued')", (now, message, r["run_id"]))
                conn.execute("INSERT INTO run_events (run_id, ts, level, kind, message, data) "
                             "VALUES (?, ?, 'error', 'run_failed', ?, NULL)", (r["run_id"], now, message))
    return reaped


def claim_next(ws, device: str, pid: int | None = None) -> Job | None:
    """Atomically take the oldest queued job for ``device``; None when empty or the device is busy."""
    reap_dead(ws)
    pid = pid or os.getpid()
    now = time.time()
    conn = _conn(ws)
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        busy = conn.execute("SELECT id FROM jobs WHERE status = 'running' AND device = ?", (device,)).fetchone()
        if busy is not None:
            return None
        row = conn.execute("SELECT id FROM jobs WHERE status = 'queued' AND device = ? ORDER BY id LIMIT 1",
                           (device,)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE jobs SET status = 'running', pid = ?, host = ?, heartbeat = ?, started_at = ? "
                     "WHERE id = ? AND status = 'queued'", (pid, socket.gethostname(), now, now, row[0]))
    return get_job(ws, row[0])


def beat(ws, job_id: int) -> bool:
    """Record a heartbeat; returns whether cancellation was requested."""
    conn = _conn(ws)
    with conn:
        conn.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))
    row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def cancel_requested(ws, job_id: int) -> bool:
    row = _conn(ws).execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def finish(ws, job_id: int, status: str, error: str | None = None) -> None:
    if status not in FINISHED:
        raise ValueError(f"not a final job status: {status!r}")
    conn = _conn(ws)
    with conn:
        conn.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                     (status, error, time.time(), job_id))


def request_cancel(ws, job_id: int) -> str:
    """Ask job ``job_id`` to stop. A queued job is cancelled at once; a running one stops at its next poll.

    Returns the job's status after the request.
    """
    conn = _conn(ws)
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT status, run_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"no job with id {job_id}")
        status, run_id = row
        if status == "queued":
            conn.execute("UPDATE jobs SET status = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ?",
                         (now, job_id))
            conn.execute("UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                         (now, run_id))
            return "cancelled"
        if status == "running":
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return "running"
    raise JobError(f"job {job_id} is already {status}")


def job_for(ws, ident: int) -> Job:
    """A job by id (the CLI's ``ID``)."""
    return get_job(ws, ident)
