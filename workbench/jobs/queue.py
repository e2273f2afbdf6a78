"""The job queue in the workspace: enqueue, claim atomically, heartbeat, finish, cancel, reap.

A job is one execution attempt of a run on one device. Workers claim the
oldest queued job of their device inside an ``IMMEDIATE`` transaction, so two
workers never get the same job and at most one job runs per device. A worker
that died (SIGKILL, OOM killer, power cut) is detected by its pid (on this host; a
suspended worker is alive) or a stale heartbeat (on another host); its job and run are then marked failed with
``"worker process N died"``, keeping every metric written before.

Torch-free: the CLI and the TUI import this module.
"""

from __future__ import annotations

import os
import socket
import time

from workbench.liveness import pid_alive  # noqa: F401 - part of the queue's API
from workbench.store import jobs as job_rows
from workbench.store import leases
from workbench.store.run_groups import reap_orphaned_groups
from workbench.store.jobs import FINISHED, STATUSES, Job, JobError  # noqa: F401 - the queue's public names

HEARTBEAT_S = 2.0
STALE_AFTER_S = 60.0
STRANDED_AFTER_S = 15.0   # a queued job with no live worker for its device this long is failed (see reap_dead)


def enqueue(ws, run_id: int, device: str = "auto", *, resume: bool = False) -> int:
    """Queue run ``run_id`` for execution on ``device``; returns the job id.

    Refused when the run does not exist or already has a queued or running job.
    """
    return job_rows.insert(ws, run_id, device, resume=resume)


def get_job(ws, job_id: int) -> Job:
    return job_rows.get(ws, job_id)


def latest_job_for_run(ws, run_id: int) -> Job | None:
    return job_rows.latest_for_run(ws, run_id)


def list_jobs(ws, *, include_finished: bool = True, limit: int = 200) -> list[dict]:
    """Jobs newest first, joined with their run's name, status and progress snapshot (dead workers reaped first)."""
    reap_dead(ws)
    return job_rows.listing(ws, include_finished=include_finished, limit=limit)


def _is_dead(pid: int | None, host: str | None, heartbeat: float | None, now: float,
             started: float | None = None) -> bool:
    """On this host a worker is dead when its pid is (or when the pid now belongs to a process
    started at another time than ``started``): a suspended (SIGSTOP) or very busy worker with a
    stale heartbeat is alive. On another host only the heartbeat can tell."""
    if host and host != socket.gethostname():
        return heartbeat is None or now - heartbeat > STALE_AFTER_S
    return not pid_alive(pid, started)


def reap_dead(ws) -> list[int]:
    """Mark running jobs whose worker is gone as failed (and their runs); returns their job ids.

    Also fails runs left ``running`` by a process that is gone, run groups (studies, foreground seeds)
    whose process is gone, and queued jobs that no live worker serves (their worker died before claiming them)."""
    now = time.time()
    dead = [r for r in job_rows.running(ws) if _is_dead(r["pid"], r["host"], r["heartbeat"], now, r["pid_started"])]
    reaped = job_rows.fail_dead(ws, dead, lambda r: f"worker process {r['pid']} died", now) if dead else []
    leases.reap_orphaned_runs(ws)   # runs left running by a process that is gone (e.g. a killed foreground run)
    reap_orphaned_groups(ws)        # then the groups such a process drove (a killed study, a killed `run --seeds`)
    # queued jobs whose worker died before claiming them (a worker on another host cannot be checked: alive)
    job_rows.fail_stranded(ws, lambda pid, host, started: host != socket.gethostname() or pid_alive(pid, started),
                           older_than=now - STRANDED_AFTER_S, now=now)
    return reaped


def claim_next(ws, device: str, pid: int | None = None) -> Job | None:
    """Atomically take the oldest queued job for ``device``; None when empty or the device is busy."""
    reap_dead(ws)
    return job_rows.claim(ws, device, pid or os.getpid(), socket.gethostname())


def beat(ws, job_id: int) -> bool:
    """Record a heartbeat; returns whether cancellation was requested."""
    return job_rows.beat(ws, job_id)


def cancel_requested(ws, job_id: int) -> bool:
    return job_rows.cancel_requested(ws, job_id)


def finish(ws, job_id: int, status: str, error: str | None = None) -> None:
    job_rows.finish(ws, job_id, status, error)


def request_cancel(ws, job_id: int) -> str:
    """Ask job ``job_id`` to stop. A queued job is cancelled at once; a running one stops at its next poll.

    Returns the job's status after the request.
    """
    return job_rows.request_cancel(ws, job_id)


def job_for(ws, ident: int) -> Job:
    """A job by id (the CLI's ``ID``)."""
    return get_job(ws, ident)
