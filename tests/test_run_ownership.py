"""One trainer per run (owner lease with fencing), cancel-then-resume exactly like an uninterrupted run,
and foreground runs that are stopped or killed (issue 15, items 2-4). Real worker processes, the real
CLI, generated data."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from integrity_helpers import CLI, cli, one_line_error, ratings_workspace, tiny_experiment, write_experiment
from job_helpers import cancel_job_and_wait, job_row, run_row, wait_until
from workbench.engine.checkpoint import checkpoint_path
from workbench.engine.runner import create_run, execute_run
from workbench.jobs import launcher, queue
from workbench.store import leases, open_workspace


@pytest.fixture
def ws_path(tmp_path) -> Path:
    return ratings_workspace(tmp_path, users=150, items=60, per_user=16)


def new_run(ws_path, epochs: int, **trainer) -> int:
    with open_workspace(ws_path) as ws:
        return create_run(ws, tiny_experiment(epochs, **trainer))


def epochs_of(ws_path, run_id) -> list[int]:
    with open_workspace(ws_path) as ws:
        return [r[0] for r in ws.db.execute("SELECT epoch FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                                            [run_id])]


def events_of(ws_path, run_id, kind=None) -> list[tuple]:
    with open_workspace(ws_path) as ws:
        return [tuple(r) for r in ws.db.execute("SELECT id, kind, message FROM run_events WHERE run_id = ? ORDER BY id",
                                                [run_id]) if kind is None or r[1] == kind]


def stop_outside_a_write(ws_path, pid: int) -> None:
    """SIGSTOP ``pid`` at a moment it holds no write lock on the workspace (retried until so)."""
    while True:
        os.kill(pid, signal.SIGSTOP)
        conn = sqlite3.connect(str(ws_path), timeout=0.5)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return
        except sqlite3.OperationalError:  # stopped inside a transaction: let it finish it
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            conn.close()


def suspend_worker_after_first_epoch(ws_path, run_id: int) -> tuple[int, int]:
    """Train ``run_id`` as a background job and, once it has written an epoch, suspend its worker
    (SIGSTOP, outside a write); returns (job id, worker pid). The caller sends SIGCONT."""
    with open_workspace(ws_path) as ws:
        job = launcher.submit(ws, run_id, "cpu")
    wait_until(lambda: epochs_of(ws_path, run_id), what="a first epoch")
    pid = job_row(ws_path, job)["pid"]
    stop_outside_a_write(ws_path, pid)
    return job, pid


def _comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.endswith("_s")}


# ------------------------------------------------------------------ item 3
def test_cancel_mid_epoch_then_resume_is_bit_identical_to_an_uninterrupted_run(ws_path, monkeypatch):
    from workbench.engine import trainer

    monkeypatch.setattr(trainer, "PROGRESS_EVERY_S", 0.0)   # should_stop is polled after every step
    straight_id, cancelled_id = new_run(ws_path, 3), new_run(ws_path, 3)
    started = []
    straight = execute_run(ws_path, straight_id, listeners=[lambda e: e.kind == "run_started" and started.append(e)])
    steps = started[0].data["steps_per_epoch"]
    assert steps >= 4
    polls = iter(range(10**9))
    stop_at = steps + 1 + steps // 2        # epoch 1's steps, the poll after epoch 1, then half of epoch 2
    assert execute_run(ws_path, cancelled_id, should_stop=lambda: next(polls) >= stop_at) == {}
    assert run_row(ws_path, cancelled_id)["status"] == "cancelled"
    assert epochs_of(ws_path, cancelled_id) == [1]
    resumed = execute_run(ws_path, cancelled_id, resume=True)
    assert _comparable(resumed) == _comparable(straight)
    with open_workspace(ws_path) as ws:
        a = torch.load(checkpoint_path(ws, straight_id, "last"), weights_only=True)
        b = torch.load(checkpoint_path(ws, cancelled_id, "last"), weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


# ------------------------------------------------------------------ item 2
def test_a_second_trainer_is_refused_while_a_job_trains_the_run(ws_path):
    run_id = new_run(ws_path, 200)
    with open_workspace(ws_path) as ws:
        job = launcher.submit(ws, run_id, "cpu")
    try:
        wait_until(lambda: epochs_of(ws_path, run_id), what="a first epoch")
        msg = one_line_error(cli(ws_path, "runs", "resume", run_id))
        assert f"has job {job}" in msg
        with pytest.raises(leases.LeaseHeld, match=f"run {run_id} is being trained by process"):
            execute_run(ws_path, run_id, resume=True)   # the engine itself refuses, not only the CLI
        assert run_row(ws_path, run_id)["status"] == "running"
    finally:
        cancel_job_and_wait(ws_path, job)
    assert run_row(ws_path, run_id)["status"] == "cancelled"
    assert len(events_of(ws_path, run_id, "run_started")) == 1


def test_a_suspended_worker_is_not_declared_dead_and_keeps_its_run(ws_path):
    run_id = new_run(ws_path, 200)
    job, pid = suspend_worker_after_first_epoch(ws_path, run_id)
    try:
        long_ago = time.time() - queue.STALE_AFTER_S - 60     # as if it had been stopped for two minutes
        with open_workspace(ws_path) as ws:
            ws.db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", [long_ago, job])
            ws.db.execute("UPDATE runs SET owner_heartbeat = ? WHERE id = ?", [long_ago, run_id])
            ws.db.conn.commit()
        listed = cli(ws_path, "jobs", "ls", "--json")
        assert listed.returncode == 0, listed.stderr
        assert next(j for j in json.loads(listed.stdout) if j["id"] == job)["status"] == "running"
        assert "running" in one_line_error(cli(ws_path, "jobs", "resume", job))
        assert f"has job {job}" in one_line_error(cli(ws_path, "runs", "resume", run_id))
        assert run_row(ws_path, run_id)["status"] == "running"
    finally:
        os.kill(pid, signal.SIGCONT)
    assert cancel_job_and_wait(ws_path, job)["status"] == "cancelled"
    assert len(events_of(ws_path, run_id, "run_started")) == 1


def test_a_stale_owner_that_wakes_up_after_being_replaced_writes_nothing(ws_path):
    """A worker on "another host" (its pid cannot be checked there) stops answering; it is declared dead and
    the run resumed by a new trainer. When the old worker wakes up, every write it tries is fenced."""
    run_id = new_run(ws_path, 8)
    job, pid = suspend_worker_after_first_epoch(ws_path, run_id)
    try:
        long_ago = time.time() - queue.STALE_AFTER_S - 60
        with open_workspace(ws_path) as ws:
            ws.db.execute("UPDATE jobs SET host = 'elsewhere', heartbeat = ? WHERE id = ?", [long_ago, job])
            ws.db.execute("UPDATE runs SET owner_host = 'elsewhere', owner_heartbeat = ? WHERE id = ?",
                          [long_ago, run_id])
            ws.db.conn.commit()
            assert queue.reap_dead(ws) == [job]
        assert run_row(ws_path, run_id)["status"] == "failed"
        resumed = execute_run(ws_path, run_id, resume=True)          # the new trainer
        done = run_row(ws_path, run_id)
        assert done["status"] == "completed" and epochs_of(ws_path, run_id) == list(range(1, 9))
        events_before = events_of(ws_path, run_id)
        with open_workspace(ws_path) as ws:
            epochs_before = [tuple(r) for r in ws.db.execute("SELECT * FROM epoch_metrics WHERE run_id = ?", [run_id])]
    finally:
        os.kill(pid, signal.SIGCONT)                                   # the stale owner wakes up
    wait_until(lambda: not queue.pid_alive(pid), what="the stale worker to stop")
    after = run_row(ws_path, run_id)
    assert after["status"] == "completed" and json.loads(after["test_metrics"]) == json.loads(done["test_metrics"])
    assert _comparable(json.loads(after["test_metrics"])) == _comparable(resumed)
    assert events_of(ws_path, run_id) == events_before
    with open_workspace(ws_path) as ws:
        assert [tuple(r) for r in ws.db.execute("SELECT * FROM epoch_metrics WHERE run_id = ?", [run_id])] == \
            epochs_before
        assert checkpoint_path(ws, run_id, "best") is not None     # files intact (sha256 checked)
        assert checkpoint_path(ws, run_id, "last") is not None


def test_fenced_writes_are_refused_after_a_takeover(ws_path):
    run_id = new_run(ws_path, 1)
    with open_workspace(ws_path) as ws:
        old = leases.acquire(ws, run_id, pid=424242, host="elsewhere")
        ws.db.execute("UPDATE runs SET owner_heartbeat = 0 WHERE id = ?", [run_id])   # it stopped answering
        ws.db.conn.commit()
        new = leases.acquire(ws, run_id, pid=os.getpid())
        assert new == old + 1
        with pytest.raises(leases.LeaseLost):
            with leases.fenced(ws, run_id, old) as conn:
                conn.execute("UPDATE runs SET progress = 'stale' WHERE id = ?", [run_id])
        assert not leases.beat(ws, run_id, old) and leases.beat(ws, run_id, new)
        with pytest.raises(leases.LeaseHeld):
            leases.acquire(ws, run_id, pid=424243, host="elsewhere")
        assert ws.db.execute("SELECT progress FROM runs WHERE id = ?", [run_id]).fetchone()[0] is None


# ------------------------------------------------------------------ item 4
def _foreground(ws_path, exp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, "--workspace", str(ws_path), "run", str(exp)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_foreground_run_is_cancelled_with_its_checkpoint(ws_path, tmp_path, sig):
    exp = write_experiment(tmp_path / "long.toml", tiny_experiment(300))
    proc = _foreground(ws_path, exp)
    try:
        wait_until(lambda: epochs_of(ws_path, 1), what="a first epoch")
        rm = subprocess.run([sys.executable, "-c", CLI, "workspace", "rm", str(ws_path), "--yes"],
                            capture_output=True, text=True, timeout=120)
        assert rm.returncode != 0 and "training now" in rm.stderr and ws_path.exists()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert f"terminated by {signal.Signals(sig).name}" in err and "Traceback" not in err
    run = run_row(ws_path, 1)
    assert run["status"] == "cancelled" and run["owner_pid"] is None
    with open_workspace(ws_path) as ws:
        last = checkpoint_path(ws, 1, "last")
        assert last is not None
        # the signal may land between an epoch's metric row and its checkpoint: resume then re-runs that
        # epoch from the previous checkpoint (and rewrites its row with the same values)
        recorded = epochs_of(ws_path, 1)[-1]
        assert torch.load(last, weights_only=True)["train_state"]["epoch"] in (recorded - 1, recorded)


def test_a_killed_foreground_run_is_detected_and_recoverable(ws_path, tmp_path):
    exp = write_experiment(tmp_path / "short.toml", tiny_experiment(300))
    proc = _foreground(ws_path, exp)
    try:
        wait_until(lambda: epochs_of(ws_path, 1), what="a first epoch")
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert run_row(ws_path, 1)["status"] == "running"            # nothing could record the kill itself
    listed = cli(ws_path, "runs", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    row = json.loads(listed.stdout)[0]
    assert row["status"] == "failed"
    assert run_row(ws_path, 1)["error"] == f"process {proc.pid} died"
    kept = epochs_of(ws_path, 1)
    with open_workspace(ws_path) as ws:   # resumable: shorten it so the test stays short
        cfg = json.loads(ws.db.execute("SELECT config FROM runs WHERE id = 1").fetchone()[0])
        cfg["trainer"]["epochs"] = kept[-1] + 1
        ws.db.execute("UPDATE runs SET config = ? WHERE id = 1", [json.dumps(cfg)])
        ws.db.conn.commit()
    out = cli(ws_path, "runs", "resume", 1, "--json")
    assert out.returncode == 0, out.stderr
    assert run_row(ws_path, 1)["status"] == "completed" and epochs_of(ws_path, 1) == list(range(1, kept[-1] + 2))
    assert cli(ws_path, "runs", "rm", 1).returncode == 0
