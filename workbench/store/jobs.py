"""Job rows: one execution attempt of a run on one device (the policy lives in :mod:`workbench.jobs.queue`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from workbench.liveness import process_started, this_host
from workbench.store import leases, runs
from workbench.store.rows import loads, write

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")


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


def insert(ws, run_id: int, device: str, *, resume: bool) -> int:
    """Queue a job for run ``run_id``; refused when the run is unknown or has a queued or running job."""
    with write(ws) as conn:
        if conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise JobError(f"no run with id {run_id}")
        busy = conn.execute("SELECT id, status FROM jobs WHERE run_id = ? AND status IN ('queued', 'running')",
                            (run_id,)).fetchone()
        if busy is not None:
            raise JobError(f"run {run_id} already has job {busy[0]} ({busy[1]})")
        cur = conn.execute("INSERT INTO jobs (run_id, status, device, resume, created_at) VALUES (?, 'queued', ?, ?, ?)",
                           (run_id, device or "auto", int(resume), time.time()))
        return int(cur.lastrowid)


def get(ws, job_id: int) -> Job:
    rows = list(ws.db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
    if not rows:
        raise JobError(f"no job with id {job_id}")
    return Job.from_row(rows[0])


def latest_for_run(ws, run_id: int) -> Job | None:
    rows = list(ws.db.query("SELECT * FROM jobs WHERE run_id = ? ORDER BY id DESC LIMIT 1", [run_id]))
    return Job.from_row(rows[0]) if rows else None


def active_for_run(ws, run_id: int) -> Job | None:
    rows = list(ws.db.query("SELECT * FROM jobs WHERE run_id = ? AND status IN ('queued', 'running') "
                            "ORDER BY id DESC LIMIT 1", [run_id]))
    return Job.from_row(rows[0]) if rows else None


def listing(ws, *, include_finished: bool = True, limit: int = 200) -> list[dict[str, Any]]:
    """Jobs newest first, joined with their run's name, status, progress and test metrics (parsed)."""
    where = "" if include_finished else "WHERE j.status IN ('queued', 'running')"
    rows = ws.db.query(f"""
        SELECT j.*, r.name AS run_name, r.status AS run_status, r.progress AS progress, r.test_metrics AS test_metrics
        FROM jobs j JOIN runs r ON r.id = j.run_id {where} ORDER BY j.id DESC LIMIT ?""", [limit])
    out = []
    for row in rows:
        row = dict(row)
        for key in ("progress", "test_metrics"):
            row[key] = loads(row[key])
        out.append(row)
    return out


def running(ws) -> list[dict[str, Any]]:
    return [dict(r) for r in ws.db.query("SELECT id, run_id, pid, host, heartbeat, device, pid_started FROM jobs "
                                         "WHERE status = 'running'")]


def fail_dead(ws, dead: list[dict[str, Any]], message_for, now: float | None = None) -> list[int]:
    """Mark each running job of ``dead`` (rows with id, run_id, pid) failed with ``message_for(row)``,
    and its run too (keeping an error already stored); returns the job ids changed."""
    now = now or time.time()
    reaped = []
    with write(ws) as conn:
        for r in dead:
            message = message_for(r)
            cur = conn.execute("UPDATE jobs SET status = 'failed', finished_at = ?, error = ? "
                               "WHERE id = ? AND status = 'running' AND pid IS ?", (now, message, r["id"], r["pid"]))
            if cur.rowcount:
                reaped.append(r["id"])
                o = conn.execute("SELECT owner_pid, owner_host, owner_heartbeat, owner_started FROM runs WHERE id = ?",
                                 [r["run_id"]]).fetchone()
                if o and o[0] and o[0] != r["pid"] and leases.owner_alive(*o[:3], now, started=o[3]):
                    continue  # another live trainer owns the run now: leave its status to it
                if runs.transition(conn, r["run_id"], "failed", only_from=("running", "queued"), keep_error=True,
                                   finished_at=now, error=message):
                    runs.add_event(conn, r["run_id"], now, "error", "run_failed", message, None)
    return reaped


def claim(ws, device: str, pid: int, host: str) -> Job | None:
    """Atomically take the oldest queued job for ``device``; None when empty or the device is busy."""
    now = time.time()
    with write(ws) as conn:
        if conn.execute("SELECT id FROM jobs WHERE status = 'running' AND device = ?", (device,)).fetchone():
            return None
        row = conn.execute("SELECT id FROM jobs WHERE status = 'queued' AND device = ? ORDER BY id LIMIT 1",
                           (device,)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE jobs SET status = 'running', pid = ?, host = ?, heartbeat = ?, started_at = ?, "
                     "pid_started = ? WHERE id = ? AND status = 'queued'",
                     (pid, host, now, now, process_started(pid) if host == this_host() else None, row[0]))
    return get(ws, row[0])


def beat(ws, job_id: int) -> bool:
    """Record a heartbeat; returns whether cancellation was requested."""
    conn = ws.db.conn
    with conn:
        conn.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))
    return cancel_requested(ws, job_id)


def cancel_requested(ws, job_id: int) -> bool:
    row = ws.db.conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def finish(ws, job_id: int, status: str, error: str | None = None) -> None:
    if status not in FINISHED:
        raise ValueError(f"not a final job status: {status!r}")
    with write(ws) as conn:
        conn.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ? "
                     "AND status IN ('queued', 'running')", (status, error, time.time(), job_id))


def request_cancel(ws, job_id: int) -> str:
    """A queued job (and its queued run) is cancelled at once; a running one gets the request flag.

    Returns the job's status after the request.
    """
    now = time.time()
    with write(ws) as conn:
        row = conn.execute("SELECT status, run_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"no job with id {job_id}")
        status, run_id = row
        if status == "queued":
            conn.execute("UPDATE jobs SET status = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ?",
                         (now, job_id))
            runs.transition(conn, run_id, "cancelled", only_from=("queued",), finished_at=now)
            return "cancelled"
        if status == "running":
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return "running"
    raise JobError(f"job {job_id} is already {status}")


# ------------------------------------------------------------------ worker processes
def register_worker(ws, pid: int, host: str, device: str) -> None:
    """Record that process ``pid`` serves ``device``'s queue (by the launcher that starts it, and by itself)."""
    with write(ws) as conn:
        conn.execute("INSERT OR REPLACE INTO workers (pid, host, device, started_at, pid_started) VALUES (?, ?, ?, ?, ?)",
                     (pid, host, device, time.time(), process_started(pid) if host == this_host() else None))


def unregister_worker(ws, pid: int, host: str) -> None:
    with write(ws) as conn:
        conn.execute("DELETE FROM workers WHERE pid = ? AND host = ?", (pid, host))


def fail_stranded(ws, worker_alive, *, older_than: float, now: float | None = None) -> list[int]:
    """Fail queued jobs that no worker will ever claim; returns their ids.

    A queued job (queued before ``older_than``) is stranded when no job runs on its device and no
    registered worker of its device is alive (``worker_alive(pid, host, pid_started)``), e.g. because the worker
    started for it was killed before it claimed the job. The job becomes failed with a message, a
    run still ``queued`` with it too, so it can be resumed. Rows of dead workers are dropped.
    """
    now = now or time.time()
    failed: list[int] = []
    with write(ws) as conn:
        workers = conn.execute("SELECT pid, host, device, pid_started FROM workers").fetchall()
        dead = [(pid, host) for pid, host, _, started in workers if not worker_alive(pid, host, started)]
        conn.executemany("DELETE FROM workers WHERE pid = ? AND host = ?", dead)
        live_devices = {device for pid, host, device, _ in workers if (pid, host) not in dead}
        rows = conn.execute("SELECT id, run_id, device FROM jobs WHERE status = 'queued' AND created_at < ? "
                            "ORDER BY id", (older_than,)).fetchall()
        busy = {r[0] for r in conn.execute("SELECT DISTINCT device FROM jobs WHERE status = 'running'")}
        for job_id, run_id, device in rows:
            if device in live_devices or device in busy:
                continue
            message = (f"no worker process is serving device {device!r} (the one started for this job exited "
                       f"before it claimed it); resume it with `workbench jobs resume {job_id}`")
            conn.execute("UPDATE jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ? "
                         "AND status = 'queued'", (now, message, job_id))
            if runs.transition(conn, run_id, "failed", only_from=("queued",), finished_at=now, error=message):
                runs.add_event(conn, run_id, now, "error", "run_failed", message, None)
            failed.append(job_id)
    return failed
