"""Submitting runs as background jobs and starting detached worker processes.

Torch-free and fast: the TUI calls :func:`submit` on its event loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.jobs import queue

_STARTED: list[subprocess.Popen] = []  # workers this process started and has not reaped yet


def reap_workers() -> int:
    """Collect the exit status of workers this process started that have ended (no ``<defunct>`` left
    behind while the app keeps running). Returns how many are still running."""
    _STARTED[:] = [p for p in _STARTED if p.poll() is None]
    return len(_STARTED)


def worker_log_path(ws_path: Path) -> Path:
    """Where detached workers of a workspace append their stdout/stderr: ``NAME.files/worker.log``."""
    from workbench.store.workspace import files_dir_for

    folder = files_dir_for(ws_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "worker.log"


def start_worker(ws_path: Path, device: str = "auto") -> subprocess.Popen:
    """Start ``python -m workbench.jobs.worker`` detached (own session) for ``device``'s queue.

    Starting one more worker than needed is harmless: a worker that finds its
    device busy or its queue empty exits at once. That is why :func:`submit`
    always starts one, so a job is never left behind by a worker that was just
    exiting.
    """
    from workbench.liveness import this_host
    from workbench.store import jobs as job_rows
    from workbench.store import open_workspace

    ws_path = Path(ws_path).resolve()
    reap_workers()
    log = open(worker_log_path(ws_path), "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.jobs.worker", "--workspace", str(ws_path), "--device", device],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        log.close()
    _STARTED.append(proc)
    with open_workspace(ws_path) as ws:  # until it exits, the device's queued jobs have a worker
        job_rows.register_worker(ws, proc.pid, this_host(), device)
    return proc


def job_device(config: dict, override: str | None = None) -> str:
    """The device a job for an experiment ``config`` queues on: ``override``, else its ``trainer.device``, else auto."""
    return override or str((config.get("trainer") or {}).get("device") or "auto")


def submit(ws, run_id: int, device: str | None = None, *, resume: bool = False, start: bool = True) -> int:
    """Queue ``run_id`` (on ``device``, default: the run's own device or ``auto``) and start a worker.

    Returns the job id. The run's status becomes ``queued`` and its device is
    recorded, so the engine and the monitor agree on where it runs.
    """
    from workbench.store import runs

    row = runs.get(ws, run_id)
    if row is None:
        raise queue.JobError(f"no run with id {run_id}")
    run_device, run_status = row["device"], row["status"]
    device = device or run_device or "auto"
    if resume and run_status not in ("cancelled", "failed"):
        raise queue.JobError(f"run {run_id} is {run_status}; only a cancelled or failed run can be resumed")
    if not resume and run_status != "queued":
        raise queue.JobError(f"run {run_id} is {run_status}; resume it instead of starting it again")
    job_id = queue.enqueue(ws, run_id, device, resume=resume)
    runs.update(ws, run_id, device=device)
    if start:
        start_worker(ws.path, device)
    return job_id


def resume_run(ws, run_id: int, device: str | None = None, *, start: bool = True) -> int:
    """Queue a cancelled or failed run to continue from its last checkpoint; returns the job id."""
    return submit(ws, run_id, device, resume=True, start=start)
