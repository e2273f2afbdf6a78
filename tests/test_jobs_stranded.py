"""A job whose worker dies before claiming it does not stay queued forever (issue 15, item 5)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from integrity_helpers import CSV_MAP, cli, tiny_experiment, write_ratings
from workbench.engine.runner import create_run
from workbench.jobs import launcher, queue
from workbench.liveness import this_host
from workbench.store import jobs as job_rows
from workbench.store import open_workspace


def test_a_queued_job_whose_worker_died_before_claiming_it_fails_and_can_be_resumed(tmp_path):
    from workbench.data.importer import import_path

    path = tmp_path / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_path(ws, write_ratings(tmp_path / "r.csv"), name="r", fmt="csv", reader_options={"map": CSV_MAP})
        run_id = create_run(ws, tiny_experiment(1))
        job = launcher.submit(ws, run_id, "cpu", start=False)
        # the state a worker killed between its start and its claim leaves: registered, dead, job queued
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        job_rows.register_worker(ws, gone.pid, this_host(), "cpu")
        assert queue.reap_dead(ws) == [] and queue.get_job(ws, job).status == "queued"   # just queued: a grace
        ws.db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", [time.time() - queue.STRANDED_AFTER_S - 1, job])
        ws.db.conn.commit()
    listed = cli(path, "jobs", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(j for j in json.loads(listed.stdout) if j["id"] == job)
    assert row["status"] == "failed" and "no worker process is serving device 'cpu'" in row["error"]
    with open_workspace(path) as ws:
        assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "failed"
        assert ws.db.execute("SELECT COUNT(*) FROM workers").fetchone()[0] == 0
    resumed = cli(path, "jobs", "resume", job)
    assert resumed.returncode == 0, resumed.stderr
    new_job = int(resumed.stdout.split("as job")[1].split()[0])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with open_workspace(path) as ws:
            status = queue.get_job(ws, new_job).status
        if status in queue.FINISHED:
            break
        time.sleep(0.2)
    assert status == "completed"
    with open_workspace(path) as ws:
        assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
        pids = [r[0] for r in ws.db.execute("SELECT pid FROM workers")]
    deadline = time.monotonic() + 120       # the worker exits once its queue is empty, removing its row
    while any(queue.pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    with open_workspace(path) as ws:
        queue.reap_dead(ws)   # (a row the launcher wrote after its worker had already exited is dropped here)
        assert ws.db.execute("SELECT COUNT(*) FROM workers").fetchone()[0] == 0


def test_a_queued_job_with_a_live_worker_is_left_alone(tmp_path):
    with open_workspace(tmp_path / "ws.db", create=True) as ws:
        ws.db.execute("INSERT INTO runs (name, status, config, created_at) VALUES ('r', 'queued', '{}', 0)")
        ws.db.conn.commit()
        job = queue.enqueue(ws, 1, "cpu")
        ws.db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", [job])
        ws.db.conn.commit()
        job_rows.register_worker(ws, 1, this_host(), "cpu")        # pid 1 is alive
        queue.reap_dead(ws)
        assert queue.get_job(ws, job).status == "queued"
