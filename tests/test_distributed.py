"""Runs as torchrun ranks (``workbench run EXP --nproc 2``): 2 gloo ranks on loopback, real CLI
subprocesses, a real workspace holding a small generated demo dataset (no ../shared).

On these 2-core machines 2 ranks are not faster than one process; what is tested is equivalence:
with dropout off, the same global batch and seed, 2 ranks give the same losses and metrics as one
process (the gradients are the same up to floating-point summation order)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import job_helpers
from workbench.engine.distributed import LaunchOptions

TIMEOUT = 900          # generous: a loaded 2-core machine starts torchrun and two ranks slowly


def experiment(path, *, views=None, epochs=3, **trainer):
    lines = ['name = "ddp-test"', 'dataset = "demo"', "[model]", "dim = 32", "max_len = 30"]
    for view in views or [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.0}]:
        lines.append("[[views]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in view.items()]
    lines += ["[head]", 'type = "softmax_ce"', "[[evaluators]]", 'type = "ranking"', "ks = [10]", "[trainer]"]
    options = {"epochs": epochs, "batch_size": 32, "lr": 3e-3, "patience": 0, "seed": 5, "device": "cpu",
               "amp": "off", **trainer}
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """A workspace with a 200-user slice of the generated demo data (about 10k events)."""
    from workbench.data.demo import DemoSpec, import_demo
    from workbench.store import open_workspace
    path = tmp_path_factory.mktemp("ddp") / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_demo(ws, DemoSpec(users=200, items=150))
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def epochs_of(db, run_id):
    return db.execute("SELECT epoch, train_loss, metrics FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                      [run_id]).fetchall()


@pytest.mark.parametrize("batching", [{}, {"length_buckets": True, "train_windows": "all"}],
                         ids=["mixed-batches", "length-buckets"])
def test_two_gloo_ranks_give_the_metrics_of_one_process(demo_ws, tmp_path, run_workbench, batching):
    """Each rank's loss is weighted by its share of the global batch's targets (of the mean batch's
    targets with length buckets): the losses match one process to float precision."""
    exp = experiment(tmp_path / "exp.toml", **batching)
    one = run_workbench("--workspace", demo_ws, "run", exp, "--json", check=True, timeout=TIMEOUT)
    two = run_workbench("--workspace", demo_ws, "run", exp, "--nproc", "2", "--json", check=True, timeout=TIMEOUT)
    one, two = json.loads(one.stdout), json.loads(two.stdout)
    db = sqlite3.connect(demo_ws)
    e1, e2 = epochs_of(db, one["run_id"]), epochs_of(db, two["run_id"])
    assert [e[0] for e in e2] == [1, 2, 3]            # rank 0 alone wrote: one row per epoch
    for (_, loss1, m1), (_, loss2, m2) in zip(e1, e2):
        assert loss2 == pytest.approx(loss1, rel=1e-4)
        assert json.loads(m2)["NDCG@10"] == pytest.approx(json.loads(m1)["NDCG@10"], abs=0.01)
    for k in ("HR@10", "NDCG@10"):
        assert two["test_metrics"][k] == pytest.approx(one["test_metrics"][k], abs=0.02)
    assert two["test_metrics"]["num_users"] == one["test_metrics"]["num_users"] == 200   # every user, gathered
    status, config = db.execute("SELECT status, config FROM runs WHERE id = ?", [two["run_id"]]).fetchone()
    assert status == "completed" and json.loads(config)["trainer"]["nproc"] == 2
    started = db.execute("SELECT COUNT(*) FROM run_events WHERE run_id = ? AND kind = 'run_started'",
                         [two["run_id"]]).fetchone()[0]
    assert started == 1
    kinds = sorted(r[0] for r in db.execute("SELECT is_best FROM checkpoints WHERE run_id = ?", [two["run_id"]]))
    assert kinds == [0, 1]                              # one last, one best


def test_a_failing_rank_fails_the_run_with_its_traceback_keeps_the_checkpoint_and_resume_completes(
        demo_ws, tmp_path, run_workbench, plugin_site):
    env = plugin_site({"wbtest-faulty": {"wbtest_faulty": "wbtest_faulty"}})
    # 200 users / batch 32 = 7 steps an epoch: rank 1 fails at its first step of epoch 2
    exp = experiment(tmp_path / "faulty.toml", epochs=2, views=[{"type": "wbtest_faulty", "fail_rank": 1,
                                                                  "fail_after": 7}])
    failed = run_workbench("--workspace", demo_ws, "run", exp, "--nproc", "2", env=env, timeout=TIMEOUT)
    assert failed.returncode != 0
    assert "rank 1 failed" in failed.stderr and "wbtest_faulty: rank 1 fails at training step 7" in failed.stderr
    db = sqlite3.connect(demo_ws)
    run_id, status, error = db.execute("SELECT id, status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert status == "failed"
    assert error.startswith("rank 1 failed:") and "Traceback" in error
    assert "RuntimeError: wbtest_faulty: rank 1 fails at training step 7" in error
    assert db.execute("SELECT epoch FROM checkpoints WHERE run_id = ? AND is_best = 0", [run_id]).fetchone() == (1,)
    # resumed, the new rank 1 process counts its steps from 0 again: epoch 2's 7 steps pass
    resumed = run_workbench("--workspace", demo_ws, "runs", "resume", run_id, "--json", env=env, check=True,
                            timeout=TIMEOUT)
    assert json.loads(resumed.stdout)["test_metrics"]["num_users"] == 200
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone() == ("completed",)
    assert [e[0] for e in epochs_of(db, run_id)] == [1, 2]
    events = [r[0] for r in db.execute("SELECT message FROM run_events WHERE run_id = ?", [run_id])]
    assert any("resumed after epoch 1" in m for m in events)


def test_multi_node_flags_go_to_torchrun_and_bad_ones_are_refused(demo_ws, tmp_path, run_workbench):
    args = LaunchOptions(4, nnodes=2, node_rank=1, rdzv_endpoint="node0:29500").torchrun_args()
    assert args[:6] == ["--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "4"]
    assert args[args.index("--rdzv-endpoint") + 1] == "node0:29500"
    assert args[args.index("--rdzv-backend") + 1] == "static"     # node 0 hosts global rank 0
    local = LaunchOptions(2).torchrun_args()
    assert local[local.index("--rdzv-endpoint") + 1] == "127.0.0.1:0"   # loopback, a port the OS picks
    exp = experiment(tmp_path / "exp.toml")
    before = sqlite3.connect(demo_ws).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    out = run_workbench("--workspace", demo_ws, "run", exp, "--nproc", "2", "--nnodes", "2")
    assert out.returncode != 0 and "--rdzv-endpoint" in out.stderr
    out = run_workbench("--workspace", demo_ws, "run", exp, "--nnodes", "2", "--node-rank", "2",
                        "--rdzv-endpoint", "h:1")
    assert out.returncode != 0 and "--node-rank 2" in out.stderr
    assert sqlite3.connect(demo_ws).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == before


wait_until = functools.partial(job_helpers.wait_until, timeout=TIMEOUT, step=0.2)


def test_background_job_with_two_ranks_trains_and_cancels_with_a_checkpoint(demo_ws, tmp_path, run_workbench):
    exp = experiment(tmp_path / "long.toml", epochs=500)     # long enough that the cancel lands mid-run
    out = run_workbench("--workspace", demo_ws, "run", exp, "--nproc", "2", "--background", "--json", check=True)
    ids = json.loads(out.stdout)
    db = sqlite3.connect(demo_ws)
    run_id, job_id = ids["run_id"], ids["job_id"]
    wait_until(lambda: len(epochs_of(db, run_id)) >= 2, what="two epochs of the background job")
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone() == ("running",)
    run_workbench("--workspace", demo_ws, "jobs", "cancel", job_id, check=True)
    wait_until(lambda: db.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()[0]
               in ("completed", "cancelled", "failed"), what="the job to stop")
    job_status, job_error = db.execute("SELECT status, error FROM jobs WHERE id = ?", [job_id]).fetchone()
    assert job_status == "cancelled", job_error
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone() == ("cancelled",)
    done = [e[0] for e in epochs_of(db, run_id)]
    assert done == list(range(1, len(done) + 1)) and 2 <= len(done) < 500
    last = db.execute("SELECT epoch FROM checkpoints WHERE run_id = ? AND is_best = 0", [run_id]).fetchone()
    assert last is not None and last[0] >= len(done) - 1


def rank_processes(ws_path) -> list[int]:
    """PIDs of torchrun and rank processes working on this workspace (Linux /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "workbench.engine.dist_rank" in cmd and str(ws_path) in cmd:
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
def test_a_sigkilled_worker_leaves_no_ranks_training(demo_ws, tmp_path):
    from workbench.engine.runner import create_run
    from workbench.engine.config import load_toml
    from workbench.jobs import launcher, queue
    from workbench.store import open_workspace

    ws_path = tmp_path / "ws.db"
    shutil.copy(demo_ws, ws_path)
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, load_toml(experiment(tmp_path / "long.toml", epochs=100_000, nproc=2)))
        queue.enqueue(ws, run_id, "cpu")
    worker = launcher.start_worker(ws_path, "cpu")
    db = sqlite3.connect(ws_path)
    try:
        wait_until(lambda: len(epochs_of(db, run_id)) >= 1, what="an epoch of the 2-rank job")
        assert rank_processes(ws_path)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=60)
        wait_until(lambda: not rank_processes(ws_path), what="torchrun and its ranks to stop with the worker")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for pid in rank_processes(ws_path):      # never leave them behind, even when the test fails
            os.kill(pid, signal.SIGKILL)


def test_sigterm_to_the_foreground_command_cancels_the_ranks_run(demo_ws, tmp_path):
    """SIGTERM to `workbench run --nproc 2` reaches rank 0 as a cancel request: the run is recorded
    cancelled (resumable), the command exits 128 + 15 and no rank is left."""
    ws_path = tmp_path / "ws.db"
    shutil.copy(demo_ws, ws_path)
    exp = experiment(tmp_path / "long.toml", epochs=100_000)
    cmd = [sys.executable, "-c", "from workbench.cli import main; main()", "--workspace", str(ws_path), "run",
           str(exp), "--nproc", "2", "--json"]
    db = sqlite3.connect(ws_path)
    before = db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_until(lambda: db.execute("SELECT COUNT(*) FROM epoch_metrics WHERE run_id > ?", [before]).fetchone()[0],
                   what="an epoch of the 2-rank run")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "cancelled" in err and "runs resume" in err
    assert db.execute("SELECT status FROM runs WHERE id > ?", [before]).fetchall() == [("cancelled",)]
    wait_until(lambda: not rank_processes(ws_path), what="the ranks to exit")
