"""A pid is not a process: liveness compares the process start time recorded with the pid, so a new
process that got a dead owner's or worker's pid is not taken for it; and a stale run owner cannot
write per-user metrics (issue 15, item 2). Real processes, the real CLI, generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from integrity_helpers import cli, ratings_workspace, tiny_experiment
from workbench.engine.runner import create_run, execute_run
from workbench.jobs import queue
from workbench.liveness import pid_alive, process_started
from workbench.store import leases, open_workspace
from workbench.store import jobs as job_rows
from workbench.store.user_metrics import SplitUserMetrics, save_split, stored_splits


@pytest.fixture
def ws_path(tmp_path) -> Path:
    return ratings_workspace(tmp_path, users=80, items=40, per_user=12)


@pytest.fixture
def other_process():
    """A live process unrelated to any run: plays the new owner of a reused pid."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def start_time_or_skip(pid: int) -> float:
    """The start time of process ``pid``; skips the test on a system that gives none."""
    started = process_started(pid)
    if started is None:
        pytest.skip("this system gives no process start times (no /proc, no psutil)")
    return started


def new_run(ws_path, epochs: int = 1) -> int:
    with open_workspace(ws_path) as ws:
        return create_run(ws, tiny_experiment(epochs))


def test_process_started_tells_two_processes_apart(other_process):
    mine, theirs = process_started(os.getpid()), process_started(other_process.pid)
    if mine is None:
        pytest.skip("this system gives no process start times (no /proc, no psutil)")
    assert theirs is not None
    assert pid_alive(other_process.pid, theirs)
    assert not pid_alive(other_process.pid, theirs - 1)        # same pid, another start: a reused pid
    assert pid_alive(other_process.pid)                          # without a start time the pid alone decides


def _as_if_reused(ws_path, run_id: int, proc) -> None:
    """Record a lease of ``run_id`` held by a process that had ``proc``'s pid but started earlier (and died)."""
    started = start_time_or_skip(proc.pid)
    with open_workspace(ws_path) as ws:
        leases.acquire(ws, run_id, proc.pid)
        ws.db.execute("UPDATE runs SET status = 'running', owner_started = ? WHERE id = ?", [started - 5, run_id])
        ws.db.conn.commit()


def test_a_reused_pid_does_not_keep_a_dead_foreground_run_running(ws_path, other_process):
    run_id = new_run(ws_path)
    _as_if_reused(ws_path, run_id, other_process)
    listed = cli(ws_path, "runs", "ls", "--json")           # the CLI's reaper sees the owner is gone
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["id"] == run_id)
    assert row["status"] == "failed"
    out = cli(ws_path, "runs", "resume", run_id, "--json")
    assert out.returncode == 0, out.stderr
    with open_workspace(ws_path) as ws:
        assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"


def test_a_second_trainer_may_take_a_run_whose_owner_pid_was_reused(ws_path, other_process):
    run_id = new_run(ws_path)
    _as_if_reused(ws_path, run_id, other_process)
    assert execute_run(ws_path, run_id, resume=True)          # no LeaseHeld: the recorded owner is gone


def test_a_job_whose_worker_pid_was_reused_is_reaped(ws_path, other_process):
    run_id = new_run(ws_path)
    started = start_time_or_skip(other_process.pid)
    with open_workspace(ws_path) as ws:
        job = queue.enqueue(ws, run_id, "cpu")
        assert job_rows.claim(ws, "cpu", other_process.pid, leases.this_host()).id == job
        assert ws.db.execute("SELECT pid_started FROM jobs WHERE id = ?", [job]).fetchone()[0] == started
        assert queue.reap_dead(ws) == []                       # the very process that claimed it is alive
        ws.db.execute("UPDATE jobs SET pid_started = ? WHERE id = ?", [started - 5, job])
        ws.db.conn.commit()
        assert queue.reap_dead(ws) == [job]
        assert ws.db.execute("SELECT error FROM jobs WHERE id = ?", [job]).fetchone()[0] == \
            f"worker process {other_process.pid} died"


def test_a_worker_registration_with_a_reused_pid_does_not_hold_queued_jobs(ws_path, other_process):
    run_id = new_run(ws_path)
    started = start_time_or_skip(other_process.pid)
    with open_workspace(ws_path) as ws:
        job = queue.enqueue(ws, run_id, "cpu")
        job_rows.register_worker(ws, other_process.pid, leases.this_host(), "cpu")
        ws.db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", [time.time() - queue.STRANDED_AFTER_S - 5, job])
        ws.db.conn.commit()
        queue.reap_dead(ws)
        assert ws.db.execute("SELECT status FROM jobs WHERE id = ?", [job]).fetchone()[0] == "queued"
        ws.db.execute("UPDATE workers SET pid_started = ? WHERE pid = ?", [started - 5, other_process.pid])
        ws.db.conn.commit()
        queue.reap_dead(ws)
        assert ws.db.execute("SELECT status FROM jobs WHERE id = ?", [job]).fetchone()[0] == "failed"


def test_a_group_whose_process_pid_was_reused_is_reaped(ws_path, other_process):
    """A seeds group recorded as driven by a process: alive while that very process runs; once the pid
    belongs to another process (start time differs), readers fail it, and its never-started run with it."""
    from workbench.store.run_groups import add_run, create_group, get_group, set_group_driver
    run_id = new_run(ws_path)
    started = start_time_or_skip(other_process.pid)
    with open_workspace(ws_path) as ws:
        group = create_group(ws, "seeds", "tiny x1 seeds", {"seeds": [7]})
        add_run(ws, group, run_id)
        set_group_driver(ws, group, other_process.pid)
        assert queue.reap_dead(ws) == [] and get_group(ws, group)["status"] == "running"
        ws.db.execute("UPDATE run_groups SET pid_started = ? WHERE id = ?", [started - 5, group])
        ws.db.conn.commit()
        queue.reap_dead(ws)
        g = get_group(ws, group)
        assert (g["status"], g["error"]) == ("failed", f"process {other_process.pid} died")
        assert ws.db.execute("SELECT status, error FROM runs WHERE id = ?", [run_id]).fetchone() == (
            "failed", f"never started: the process driving group g{group} ({other_process.pid}) died")


def test_a_stale_owner_cannot_write_per_user_metrics(ws_path):
    """The trainer evaluated the test split, then lost the run to another trainer before storing the
    per-user metrics: that write is refused like its other writes."""
    from workbench.engine.config import run_config
    from workbench.engine.session import RunSession

    run_id = new_run(ws_path)
    with open_workspace(ws_path) as ws:
        _row, cfg = run_config(ws, run_id)
        stale = leases.acquire(ws, run_id, pid=424242, host="elsewhere")
        session = RunSession(ws, run_id, cfg, token=stale)
        test = session.evaluate(session.eval_cases(session.split.test_users, session.split.test_pos))
        ws.db.execute("UPDATE runs SET owner_heartbeat = 0 WHERE id = ?", [run_id])   # it stopped answering
        ws.db.conn.commit()
        leases.acquire(ws, run_id, os.getpid())                     # and another trainer took the run over
        with pytest.raises(leases.LeaseLost):
            session.store_user_metrics(test)
        assert stored_splits(ws, run_id) == []
        with pytest.raises(leases.LeaseLost):                       # the store function itself is fenced
            save_split(ws, run_id, "test", SplitUserMetrics(np.array([1]), {"NDCG@10": np.array([0.5])}), token=stale)
        assert stored_splits(ws, run_id) == []
