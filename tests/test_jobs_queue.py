"""The job queue on a real workspace file: atomic claims, one job per device, cancel, dead-worker reaping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from workbench.jobs import queue
from workbench.store import open_workspace


@pytest.fixture
def ws(tmp_path):
    w = open_workspace(tmp_path / "jobs.db", create=True)
    yield w
    w.close()


def _add_run(ws, status="queued", device="cpu") -> int:
    with ws.db.conn:
        cur = ws.db.conn.execute(
            "INSERT INTO runs (name, status, config, device, created_at) VALUES (?, ?, ?, ?, ?)",
            ("r", status, json.dumps({}), device, time.time()))
    return cur.lastrowid


def test_claim_takes_oldest_and_only_one_per_device(ws):
    r1, r2, r3 = _add_run(ws), _add_run(ws), _add_run(ws, device="cuda:0")
    j1 = queue.enqueue(ws, r1, "cpu")
    j2 = queue.enqueue(ws, r2, "cpu")
    j3 = queue.enqueue(ws, r3, "cuda:0")
    got = queue.claim_next(ws, "cpu")
    assert got.id == j1 and got.status == "running" and got.pid == os.getpid()
    assert queue.claim_next(ws, "cpu") is None, "a second job must not start while the device is busy"
    assert queue.claim_next(ws, "cuda:0").id == j3, "another device has its own queue"
    queue.finish(ws, j1, "completed")
    assert queue.claim_next(ws, "cpu").id == j2


def test_enqueue_refuses_unknown_run_and_double_queueing(ws):
    with pytest.raises(queue.JobError, match="no run with id 99"):
        queue.enqueue(ws, 99)
    r = _add_run(ws)
    queue.enqueue(ws, r, "cpu")
    with pytest.raises(queue.JobError, match="already has job"):
        queue.enqueue(ws, r, "cpu")


def test_concurrent_claims_from_processes_never_share_a_job(ws, tmp_path):
    for _ in range(6):
        queue.enqueue(ws, _add_run(ws), "cpu")
    # each process claims then immediately finishes, repeatedly, racing the others
    code = (
        "import sys, json\n"
        "from workbench.store import open_workspace\n"
        "from workbench.jobs import queue\n"
        "ws = open_workspace(sys.argv[1])\n"
        "got = []\n"
        "for _ in range(20):\n"
        "    j = queue.claim_next(ws, 'cpu')\n"
        "    if j is not None:\n"
        "        got.append(j.id); queue.finish(ws, j.id, 'completed')\n"
        "print(json.dumps(got))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws.path)], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    claimed = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        claimed += json.loads(out)
    assert sorted(claimed) == sorted(set(claimed)), "a job was claimed twice"
    assert len(claimed) == 6
    assert {r["status"] for r in ws.db.query("SELECT status FROM jobs")} == {"completed"}


def test_cancel_queued_job_cancels_its_run_and_running_job_gets_a_request(ws):
    r1, r2 = _add_run(ws), _add_run(ws)
    j1, j2 = queue.enqueue(ws, r1, "cpu"), queue.enqueue(ws, r2, "cpu")
    queue.claim_next(ws, "cpu")
    assert queue.request_cancel(ws, j2) == "cancelled"
    assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [r2]).fetchone()[0] == "cancelled"
    assert queue.request_cancel(ws, j1) == "running"
    assert queue.beat(ws, j1) is True
    queue.finish(ws, j1, "cancelled")
    with pytest.raises(queue.JobError, match="already cancelled"):
        queue.request_cancel(ws, j1)


def test_job_of_a_sigkilled_worker_is_failed_with_message_and_keeps_metrics(ws):
    run_id = _add_run(ws, status="running")
    job_id = queue.enqueue(ws, run_id, "cpu")
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert queue.claim_next(ws, "cpu", pid=victim.pid).id == job_id
        with ws.db.conn:
            ws.db.conn.execute("INSERT INTO epoch_metrics (run_id, epoch, train_loss, metrics, created_at) "
                               "VALUES (?, 1, 0.5, '{\"ndcg@10\": 0.1}', ?)", (run_id, time.time()))
        assert queue.reap_dead(ws) == [], "a live worker must not be reaped"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert [r["id"] for r in queue.list_jobs(ws)] == [job_id]   # list_jobs reaps
    job = queue.get_job(ws, job_id)
    assert job.status == "failed" and job.error == f"worker process {victim.pid} died"
    run = ws.db.execute("SELECT status, error FROM runs WHERE id = ?", [run_id]).fetchone()
    assert run == ("failed", f"worker process {victim.pid} died")
    assert ws.db.execute("SELECT train_loss FROM epoch_metrics WHERE run_id = ?", [run_id]).fetchone()[0] == 0.5
    # the device is free again for the next job
    nxt = queue.enqueue(ws, _add_run(ws), "cpu")
    assert queue.claim_next(ws, "cpu").id == nxt


def test_zombie_worker_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{child.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    assert not queue.pid_alive(child.pid)
    child.wait()
    assert queue.pid_alive(os.getpid())


def test_stale_heartbeat_of_a_live_local_worker_is_not_dead_but_of_a_remote_one_is(ws):
    """A worker suspended (SIGSTOP) for longer than STALE_AFTER_S is alive while its pid lives: only on
    another host, where its pid cannot be checked, does a stale heartbeat make it dead."""
    run_id = _add_run(ws, status="running")
    job_id = queue.enqueue(ws, run_id, "cpu")
    queue.claim_next(ws, "cpu")  # claimed by this (alive) process
    with ws.db.conn:
        ws.db.conn.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time() - queue.STALE_AFTER_S - 5, job_id))
    assert queue.reap_dead(ws) == []
    assert queue.get_job(ws, job_id).status == "running"
    with ws.db.conn:
        ws.db.conn.execute("UPDATE jobs SET host = 'another-host' WHERE id = ?", (job_id,))
    assert queue.reap_dead(ws) == [job_id]
