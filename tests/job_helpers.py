"""Waiting on background jobs and reading their rows, for the tests that run real worker processes.

Tests wait on a condition (a row's status, an epoch written), never on a fixed sleep.
"""

from __future__ import annotations

import time
from pathlib import Path


def wait_until(fn, timeout: float = 240.0, what: str = "condition", step: float = 0.1):
    """Call ``fn`` until it returns something truthy and return that; AssertionError naming ``what``
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def run_row(ws_path: Path, run_id: int) -> dict:
    """The ``runs`` row of ``run_id``."""
    from workbench.store import open_workspace
    with open_workspace(ws_path) as ws:
        return dict(next(iter(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))))


def job_row(ws_path: Path, job_id: int) -> dict:
    """The ``jobs`` row of ``job_id``."""
    from workbench.store import open_workspace
    with open_workspace(ws_path) as ws:
        return dict(next(iter(ws.db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))))


def wait_for_job_end(ws_path: Path, job_id: int, what: str | None = None, timeout: float = 240.0) -> dict:
    """Wait until job ``job_id`` has finished (completed, failed or cancelled); returns its row."""
    from workbench.jobs import queue
    return wait_until(lambda: (row := job_row(ws_path, job_id))["status"] in queue.FINISHED and row,
                      timeout=timeout, what=what or f"job {job_id} to finish")


def cancel_job_and_wait(ws_path: Path, job_id: int) -> dict:
    """Ask job ``job_id`` to stop (as ``workbench jobs cancel`` does) and wait until it has; returns its row."""
    from workbench.jobs import queue
    from workbench.store import open_workspace
    with open_workspace(ws_path) as ws:
        queue.request_cancel(ws, job_id)
    return wait_for_job_end(ws_path, job_id, what=f"the cancelled job {job_id}")
