"""Background jobs end to end: real detached worker processes training real (tiny) runs on a real data slice.

Covers: one job at a time per device, progress arriving in the workspace,
graceful cancel (checkpoint kept) and resume, SIGKILL of a worker (status
failed with "worker process N died", metrics kept) and a crash inside a run
(traceback stored), all through the ``workbench jobs`` CLI where a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from job_helpers import job_row, run_row, wait_for_job_end, wait_until
from tui_helpers import ratings_slice
from workbench.jobs import launcher, queue
from workbench.store import open_workspace

CLI = "from workbench.cli import main; main()"
EPOCHS_LONG = 80  # long enough that a cancel sent through a fresh CLI process lands mid-run


def tiny_config(epochs: int) -> dict:
    return {"name": "tiny", "dataset": "r", "model": {"dim": 16, "max_len": 20},
            "views": [{"type": "sasrec", "blocks": 1}], "head": {"type": "softmax_ce"},
            "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
            "trainer": {"epochs": epochs, "batch_size": 16, "patience": 0, "device": "cpu", "threads": 1}}


@pytest.fixture
def ws_path(tmp_path):
    from workbench.data.importer import import_path

    data = ratings_slice(tmp_path, 3000)
    path = tmp_path / "jobs.db"
    with open_workspace(path, create=True) as ws:
        import_path(ws, data, name="r", fmt="csv", reader_options={"map": "user=userId,item=movieId,time=timestamp"})
    return path


def new_run(ws_path, epochs: int) -> int:
    from workbench.engine.runner import create_run

    with open_workspace(ws_path) as ws:
        return create_run(ws, tiny_config(epochs))


def cli(ws_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def epochs_of(ws_path, run_id) -> list[tuple]:
    with open_workspace(ws_path) as ws:
        return [tuple(r) for r in ws.db.execute(
            "SELECT epoch, train_loss, created_at FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id])]


def test_jobs_run_one_at_a_time_per_device_and_record_progress(ws_path):
    r1, r2 = new_run(ws_path, 2), new_run(ws_path, 2)
    with open_workspace(ws_path) as ws:
        j1 = launcher.submit(ws, r1, "cpu")
        j2 = launcher.submit(ws, r2, "cpu")  # starts a second worker: it must wait, not run concurrently
    a, b = wait_for_job_end(ws_path, j1), wait_for_job_end(ws_path, j2)
    assert a["status"] == b["status"] == "completed", (a["error"], b["error"])
    assert b["started_at"] >= a["finished_at"] - 0.05 or a["started_at"] >= b["finished_at"] - 0.05, \
        "two jobs ran at the same time on one device"
    for r in (r1, r2):
        run = run_row(ws_path, r)
        assert run["status"] == "completed" and json.loads(run["test_metrics"])["NDCG@10"] >= 0
        assert json.loads(run["progress"])["epoch"] == 2
        assert [e[0] for e in epochs_of(ws_path, r)] == [1, 2]
    out = cli(ws_path, "jobs", "ls", "--json")
    assert out.returncode == 0, out.stderr
    listed = {row["id"]: row for row in json.loads(out.stdout)}
    assert listed[j1]["status"] == "completed" and listed[j1]["run_id"] == r1
    logs = cli(ws_path, "jobs", "logs", j1)
    assert logs.returncode == 0 and "epoch 2" in logs.stdout.lower() or "epoch_finished" in logs.stdout


def test_cancel_keeps_checkpoint_and_resume_continues_to_the_end(ws_path):
    run_id = new_run(ws_path, EPOCHS_LONG)
    with open_workspace(ws_path) as ws:
        job = launcher.submit(ws, run_id, "cpu")
    wait_until(lambda: len(epochs_of(ws_path, run_id)) >= 2, what="two epochs")
    out = cli(ws_path, "jobs", "cancel", job)
    assert out.returncode == 0, out.stderr
    assert wait_for_job_end(ws_path, job, what="cancellation")["status"] == "cancelled"
    assert run_row(ws_path, run_id)["status"] == "cancelled"
    done = epochs_of(ws_path, run_id)
    assert 2 <= len(done) < EPOCHS_LONG
    with open_workspace(ws_path) as ws:
        assert ws.db.execute("SELECT COUNT(*) FROM checkpoints WHERE run_id = ?", [run_id]).fetchone()[0] >= 1
    out = cli(ws_path, "jobs", "resume", job)
    assert out.returncode == 0, out.stderr
    new_job = int(out.stdout.split("as job")[1].split()[0])
    resumed = wait_for_job_end(ws_path, new_job, what="resumed job")
    assert resumed["status"] == "completed", resumed["error"]
    after = epochs_of(ws_path, run_id)
    assert [e[0] for e in after] == list(range(1, EPOCHS_LONG + 1))
    assert after[0] == done[0], "resume must continue, not retrain epoch 1"
    assert run_row(ws_path, run_id)["status"] == "completed"


def test_sigkilled_worker_fails_the_job_keeps_metrics_and_can_resume(ws_path):
    run_id = new_run(ws_path, 30)
    with open_workspace(ws_path) as ws:
        job = queue.enqueue(ws, run_id, "cpu")
    worker = launcher.start_worker(ws_path, "cpu")
    try:
        wait_until(lambda: len(epochs_of(ws_path, run_id)) >= 2, what="two epochs")
        assert job_row(ws_path, job)["pid"] == worker.pid
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    kept = epochs_of(ws_path, run_id)
    out = cli(ws_path, "jobs", "ls", "--json")  # detects the dead worker
    assert out.returncode == 0, out.stderr
    row = next(r for r in json.loads(out.stdout) if r["id"] == job)
    assert row["status"] == "failed" and row["error"] == f"worker process {worker.pid} died"
    run = run_row(ws_path, run_id)
    assert run["status"] == "failed" and f"worker process {worker.pid} died" in run["error"]
    assert epochs_of(ws_path, run_id)[: len(kept)] == kept and len(kept) >= 2
    out = cli(ws_path, "jobs", "resume", job)
    assert out.returncode == 0, out.stderr
    new_job = int(out.stdout.split("as job")[1].split()[0])
    resumed = wait_for_job_end(ws_path, new_job, what="resumed job")
    assert resumed["status"] == "completed", resumed["error"]
    assert [e[0] for e in epochs_of(ws_path, run_id)] == list(range(1, 31))


def test_a_crash_inside_the_run_stores_its_traceback(ws_path):
    run_id = new_run(ws_path, 2)
    with open_workspace(ws_path) as ws:  # the run's data changes under it: the engine refuses to train
        with ws.db.conn:
            ws.db.conn.execute("UPDATE runs SET data_fingerprint = 'not-the-data' WHERE id = ?", [run_id])
        job = launcher.submit(ws, run_id, "cpu")
    row = wait_for_job_end(ws_path, job, what="failure")
    assert row["status"] == "failed"
    assert "Traceback" in row["error"] and "fingerprint differs" in row["error"]
    assert run_row(ws_path, run_id)["status"] == "failed"
    logs = cli(ws_path, "jobs", "logs", job)
    assert "fingerprint differs" in logs.stdout


def test_run_background_returns_at_once_and_logs_follow_until_done(ws_path, tmp_path):
    from workbench.tui.experiment_config import to_toml

    exp = tmp_path / "tiny.toml"
    exp.write_text(to_toml(tiny_config(2)))
    start = time.monotonic()
    out = cli(ws_path, "run", exp, "--background", "--json")
    assert out.returncode == 0, out.stderr
    ids = json.loads(out.stdout)
    assert set(ids) == {"run_id", "job_id"}
    follow = cli(ws_path, "jobs", "logs", ids["job_id"], "--follow")
    assert follow.returncode == 0, follow.stderr
    assert "run_finished" in follow.stdout and "epoch_finished" in follow.stdout
    assert job_row(ws_path, ids["job_id"])["status"] == "completed"
    assert time.monotonic() - start < 170
