"""The owner lease of a run: at most one live process trains a run, and a stale owner writes nothing.

A trainer takes the lease with :func:`acquire` before it changes anything. The lease records the
owner's pid, host and a heartbeat, and increments the run's ``owner_token`` (a fencing token).
Every later write of that trainer runs inside :func:`fenced`, which refuses it with
:class:`LeaseLost` when the run's token is no longer the one the trainer got. So a process that was
suspended (SIGSTOP, a frozen VM), declared dead meanwhile and replaced, cannot overwrite the new
owner's records when it wakes up.

Liveness of an owner: on this host, its pid and that process's start time (a suspended process is
alive: a stale heartbeat alone never makes a local owner dead; a new process that got the pid of a
dead owner is not the owner); on another host, where pids cannot be checked, a heartbeat newer
than :data:`STALE_AFTER_S`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from workbench.liveness import pid_alive, process_started, this_host
from workbench.store import runs
from workbench.store.rows import write

HEARTBEAT_S = 2.0
STALE_AFTER_S = 60.0


class LeaseHeld(RuntimeError):
    """Another live process owns the run."""


class LeaseLost(RuntimeError):
    """This process's lease on the run was taken over: its writes are refused (fenced)."""


def owner_alive(pid: int | None, host: str | None, heartbeat: float | None, now: float | None = None, *,
                started: float | None = None) -> bool:
    """``started``: the owner's process start time recorded with the lease (None: unknown)."""
    if not pid:
        return False
    if host and host != this_host():
        return heartbeat is not None and (now or time.time()) - heartbeat <= STALE_AFTER_S
    return pid_alive(pid, started)


def owner(ws, run_id: int) -> dict[str, Any] | None:
    """The run's owner ``{pid, host, heartbeat, token, alive}``, None when no process holds the lease."""
    row = ws.db.execute("SELECT owner_pid, owner_host, owner_heartbeat, owner_token, owner_started FROM runs "
                        "WHERE id = ?", [run_id]).fetchone()
    if row is None or row[0] is None:
        return None
    return {"pid": row[0], "host": row[1], "heartbeat": row[2], "token": row[3],
            "alive": owner_alive(row[0], row[1], row[2], started=row[4])}


def describe(o: dict[str, Any]) -> str:
    where = "" if o.get("host") in (None, this_host()) else f" on {o['host']}"
    return f"process {o['pid']}{where}"


def acquire(ws, run_id: int, pid: int, host: str | None = None) -> int:
    """Take the lease of run ``run_id`` for process ``pid``; returns the new fencing token.

    Raises :class:`LeaseHeld` while another live process owns the run. A run left ``running`` by
    an owner that is gone (killed foreground run, dead worker) is first marked failed with
    ``"process N died"``, so it can be resumed.
    """
    host = host or this_host()
    now = time.time()
    with write(ws) as conn:
        row = conn.execute("SELECT owner_token, owner_pid, owner_host, owner_heartbeat, status, owner_started "
                           "FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise runs.RunNotFound(f"no run {run_id}")
        token, opid, ohost, obeat, status, ostarted = row
        if (opid is not None and owner_alive(opid, ohost, obeat, now, started=ostarted)
                and (opid, ohost) != (pid, host)):
            raise LeaseHeld(f"run {run_id} is being trained by {describe({'pid': opid, 'host': ohost})}; "
                            "cancel it or wait for it to finish")
        if status == "running":  # its trainer is gone without recording an outcome
            message = f"process {opid} died" if opid else "its process is gone"
            runs.transition(conn, run_id, "failed", keep_error=True, finished_at=now, error=message)
            runs.add_event(conn, run_id, now, "error", "run_failed", message, None)
        token += 1
        started = process_started(pid) if host == this_host() else None
        conn.execute("UPDATE runs SET owner_token = ?, owner_pid = ?, owner_host = ?, owner_heartbeat = ?, "
                     "owner_started = ? WHERE id = ?", [token, pid, host, now, started, run_id])
    return token


def check(conn, run_id: int, token: int) -> None:
    """Raise :class:`LeaseLost` unless ``token`` is still the run's token (inside a write transaction)."""
    row = conn.execute("SELECT owner_token FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise LeaseLost(f"run {run_id} was deleted while it was being trained")
    if row[0] != token:
        raise LeaseLost(f"run {run_id} was taken over by another trainer (lease {row[0]}, this process held "
                        f"{token}); this process stops and writes nothing more")


@contextlib.contextmanager
def fenced(ws, run_id: int, token: int | None) -> Iterator[Any]:
    """A write transaction that first checks the lease (``token`` None: unfenced, for tools and tests)."""
    with write(ws) as conn:
        if token is not None:
            check(conn, run_id, token)
        yield conn


def beat(ws, run_id: int, token: int) -> bool:
    """Refresh the heartbeat; False when the lease was taken over."""
    conn = ws.db.conn
    with conn:
        cur = conn.execute("UPDATE runs SET owner_heartbeat = ? WHERE id = ? AND owner_token = ?",
                           [time.time(), run_id, token])
    return cur.rowcount == 1


def release(ws, run_id: int, token: int) -> None:
    """Give the lease up (only if still ours); the token stays, so older owners remain fenced."""
    with write(ws) as conn:
        conn.execute("UPDATE runs SET owner_pid = NULL, owner_host = NULL, owner_heartbeat = NULL, owner_started = NULL "
                     "WHERE id = ? AND owner_token = ?", [run_id, token])


def live_owners(ws) -> list[dict[str, Any]]:
    """Runs whose lease is held by a live process: ``{run_id, pid, host}``."""
    rows = ws.db.execute("SELECT id, owner_pid, owner_host, owner_heartbeat, owner_started FROM runs "
                         "WHERE owner_pid IS NOT NULL")
    now = time.time()
    return [{"run_id": r[0], "pid": r[1], "host": r[2]} for r in rows
            if owner_alive(r[1], r[2], r[3], now, started=r[4])]


def reap_orphaned_runs(ws) -> list[int]:
    """Mark ``running`` runs whose trainer is gone as failed (``"process N died"``); returns their ids.

    A run is orphaned when no live process holds its lease and no job is queued or running for it
    (a killed foreground ``workbench run``, a worker killed between its job and its run's record).
    """
    now = time.time()
    rows = ws.db.execute("SELECT id, owner_pid, owner_host, owner_heartbeat, owner_started FROM runs "
                         "WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = runs.id "
                         "AND j.status IN ('queued', 'running'))").fetchall()
    gone = [r for r in rows if not owner_alive(r[1], r[2], r[3], now, started=r[4])]
    reaped = []
    if not gone:
        return reaped
    with write(ws) as conn:
        for run_id, pid, *_ in gone:
            current = conn.execute("SELECT owner_pid, owner_host, owner_heartbeat, status, owner_started FROM runs "
                                   "WHERE id = ?", [run_id]).fetchone()
            if current is None or current[3] != "running" or owner_alive(*current[:3], now, started=current[4]):
                continue
            message = f"process {pid} died" if pid else "its process is gone"
            job = conn.execute("SELECT id, error FROM jobs WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                               [run_id]).fetchone()
            if job and job[1]:   # its worker said why (e.g. the disk was full) but could not record it here
                message += f"; job {job[0]} failed: {job[1].strip().splitlines()[-1]}"
            runs.transition(conn, run_id, "failed", keep_error=True, finished_at=now, error=message)
            runs.add_event(conn, run_id, now, "error", "run_failed", message, None)
            conn.execute("UPDATE runs SET owner_pid = NULL, owner_host = NULL, owner_heartbeat = NULL, "
                         "owner_started = NULL WHERE id = ?", [run_id])
            reaped.append(run_id)
    return reaped
