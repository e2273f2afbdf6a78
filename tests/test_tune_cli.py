"""`workbench tune` on the demo data: every trial is a stored run, Optuna's storage sits with the workspace."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time

import pytest

from engine_helpers import tiny_gru_toml

TOML = tiny_gru_toml(dim=8)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    import os
    import subprocess
    import sys
    home = tmp_path_factory.mktemp("tune")
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("WORKBENCH_WORKSPACE", None)
    subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()", "demo", "--no-app", "--json"],
                   env=env, cwd=home, check=True, capture_output=True, timeout=300)
    return home / "demo.db"


def _copy(demo_ws, tmp_path):
    ws = tmp_path / "ws.db"
    shutil.copy(demo_ws, ws)
    (tmp_path / "exp.toml").write_text(TOML)
    return ws, tmp_path / "exp.toml"


def test_tune_three_trials_stores_three_runs(demo_ws, tmp_path, run_workbench):
    ws, exp = _copy(demo_ws, tmp_path)
    out = run_workbench("-w", ws, "tune", exp, "--trials", "3", "--set", "trainer.lr=loguniform(1e-4,1e-2)",
                        "--prune-after", "1", "--json", check=True, timeout=900)
    report = json.loads(out.stdout)
    assert report["status"] == "completed" and len(report["trials"]) == 3 and report["prune_after"] == 1
    assert (tmp_path / "ws.files" / "optuna.db").is_file() and report["storage"].endswith("ws.files/optuna.db")
    db = sqlite3.connect(ws)
    runs = db.execute("SELECT id, status, config FROM runs WHERE group_id = ? ORDER BY id",
                      [report["group_id"]]).fetchall()
    assert [r[0] for r in runs] == [t["run_id"] for t in report["trials"]]
    for (run_id, status, config), trial in zip(runs, report["trials"]):
        lr = json.loads(config)["trainer"]["lr"]
        assert 1e-4 <= lr <= 1e-2 and lr == pytest.approx(trial["params"]["trainer.lr"])
        assert (status, trial["state"]) in (("completed", "complete"), ("cancelled", "pruned"))
        if trial["state"] == "complete":     # the objective is the run's best validation NDCG@10
            best = max(json.loads(m)["NDCG@10"] for (m,) in db.execute(
                "SELECT metrics FROM epoch_metrics WHERE run_id = ?", [run_id]))
            assert trial["value"] == pytest.approx(best)
        else:
            assert db.execute("SELECT COUNT(*) FROM run_events WHERE run_id = ? AND message LIKE 'pruned by the tuner%'",
                              [run_id]).fetchone()[0] == 1
    completed = [t["value"] for t in report["trials"] if t["state"] == "complete"]
    assert report["best"]["value"] == max(completed)
    assert report["best_so_far"][-1] == max(completed)
    shown = json.loads(run_workbench("-w", ws, "studies", "show", f"g{report['group_id']}", "--json",
                                     check=True).stdout)
    assert [t["run_id"] for t in shown["trials"]] == [t["run_id"] for t in report["trials"]]
    assert "trainer.lr" in run_workbench("-w", ws, "studies", "show", f"g{report['group_id']}", check=True).stdout


def test_bad_space_stores_nothing(demo_ws, tmp_path, run_workbench):
    ws, exp = _copy(demo_ws, tmp_path)
    out = run_workbench("-w", ws, "tune", exp, "--trials", "2", "--set", "trainer.lr=loguniform(1e-2)")
    assert out.returncode == 1 and "trainer.lr=loguniform(1e-2)" in out.stderr and "two bounds" in out.stderr
    out = run_workbench("-w", ws, "tune", exp, "--trials", "2", "--set", "trainer.nope=uniform(0,1)")
    assert out.returncode == 1 and "trainer.nope" in out.stderr
    out = run_workbench("-w", ws, "tune", exp, "--trials", "2", "--set", "model.dim=int(0,4)")
    assert out.returncode == 1 and "model.dim" in out.stderr and "with model.dim = 0" in out.stderr
    space = tmp_path / "space.toml"
    space.write_text('[space]\n"trainer.lr" = "loguniform(1e-4, 1e-2)"\n[tune]\nprune_after = 0\n')
    out = run_workbench("-w", ws, "tune", exp, "--space", space)
    assert out.returncode == 1 and f"{space}: tune.prune_after: expected a whole number of epochs >= 1, got 0" in out.stderr
    db = sqlite3.connect(ws)
    assert db.execute("SELECT COUNT(*) FROM run_groups").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_background_study_runs_detached(demo_ws, tmp_path, run_workbench):
    ws, exp = _copy(demo_ws, tmp_path)
    out = run_workbench("-w", ws, "tune", exp, "--trials", "1", "--epochs", "1", "--pruner", "none",
                        "--set", "model.dim=choice(8, 12)", "--background", "--json", check=True)
    started = json.loads(out.stdout)
    deadline = time.monotonic() + 600
    while True:   # wait on the stored status (condition), not on a fixed sleep
        report = json.loads(run_workbench("-w", ws, "studies", "show", f"g{started['group_id']}", "--json",
                                          check=True).stdout)
        if report["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    log = (tmp_path / "ws.files" / f"tune-g{started['group_id']}.log").read_text()
    assert report["status"] == "completed", log
    assert len(report["trials"]) == 1 and report["trials"][0]["state"] == "complete"


def test_a_pruned_trial_stops_its_run_between_epochs(demo_ws, tmp_path):
    """The reporter hands each validation to Optuna; a prune decision stops the real run after that epoch."""
    import optuna

    from workbench.engine.config import load_toml
    from workbench.engine.runner import create_run, execute_run
    from workbench.store import open_workspace
    from workbench.tune.study import TrialReporter
    ws, exp = _copy(demo_ws, tmp_path)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    trial = study.ask()              # NDCG@10 never reaches 2: pruned at its first report
    config = load_toml(exp)
    config["trainer"]["epochs"] = 3
    with open_workspace(ws) as w:
        run_id = create_run(w, config)
    reporter = TrialReporter(trial, "NDCG@10", lambda: False)
    execute_run(ws, run_id, listeners=[reporter], should_stop=reporter.should_stop)
    assert reporter.pruned_at == 1
    db = sqlite3.connect(ws)
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "cancelled"
    assert [e for (e,) in db.execute("SELECT epoch FROM epoch_metrics WHERE run_id = ?", [run_id])] == [1]
    assert list(study.trials[0].intermediate_values) == [1]


@pytest.mark.parametrize("prune_after", [None, 4])
def test_no_trial_is_pruned_before_prune_after(prune_after):
    """A low first epoch (e.g. inside a learning-rate warm-up) prunes nothing before epoch prune_after
    (default 2: epoch 1 never prunes); from that epoch on the median rule applies."""
    import optuna

    from workbench.tune.study import PRUNE_AFTER, make_pruner
    first = prune_after or PRUNE_AFTER
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", 10, first))
    for _ in range(2):
        t = study.ask()
        for step in range(1, 11):
            t.report(0.5, step)
        study.tell(t, 0.5)
    trial = study.ask()
    decisions = []
    for step in range(1, first + 1):
        trial.report(0.1, step)
        decisions.append(trial.should_prune())
    assert decisions == [False] * (first - 1) + [True]


def test_cancel_stops_a_background_study(demo_ws, tmp_path, run_workbench):
    ws, exp = _copy(demo_ws, tmp_path)
    out = run_workbench("-w", ws, "tune", exp, "--trials", "20", "--epochs", "30", "--pruner", "none",
                        "--set", "trainer.lr=loguniform(1e-4,1e-2)", "--background", "--json", check=True)
    group = json.loads(out.stdout)["group_id"]
    db = sqlite3.connect(ws)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:   # wait until the first trial's run is training
        if db.execute("SELECT COUNT(*) FROM runs WHERE group_id = ? AND status = 'running'", [group]).fetchone()[0]:
            break
        time.sleep(0.2)
    assert "cancel requested" in run_workbench("-w", ws, "studies", "cancel", f"g{group}", check=True).stdout
    while time.monotonic() < deadline:
        status = db.execute("SELECT status FROM run_groups WHERE id = ?", [group]).fetchone()[0]
        if status not in ("queued", "running"):
            break
        time.sleep(0.2)
    log = (tmp_path / "ws.files" / f"tune-g{group}.log").read_text()
    assert status == "cancelled", log
    runs = db.execute("SELECT status FROM runs WHERE group_id = ?", [group]).fetchall()
    assert runs == [("cancelled",)]           # the running trial stopped, no other started
    again = run_workbench("-w", ws, "studies", "cancel", f"g{group}")
    assert again.returncode == 1 and "already cancelled" in again.stderr


def test_a_killed_background_study_is_failed_by_its_readers_and_keeps_its_trials(demo_ws, tmp_path, run_workbench):
    """SIGKILL of a background study's process: `studies ls/show` (and `runs ls`) fail the study with the reason
    instead of showing it running forever; the trial run that was training is failed, its epochs kept."""
    import os
    import signal

    from workbench.liveness import pid_alive
    ws, exp = _copy(demo_ws, tmp_path)
    out = run_workbench("-w", ws, "tune", exp, "--trials", "20", "--epochs", "30", "--pruner", "none",
                        "--set", "trainer.lr=loguniform(1e-4,1e-2)", "--background", "--json", check=True)
    started = json.loads(out.stdout)
    group, pid = started["group_id"], started["pid"]
    db = sqlite3.connect(ws)
    assert db.execute("SELECT pid, pid_started IS NOT NULL, host IS NOT NULL FROM run_groups WHERE id = ?",
                      [group]).fetchone() == (pid, 1, 1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:   # wait until a trial run has stored an epoch
        if db.execute("SELECT COUNT(*) FROM epoch_metrics e JOIN runs r ON r.id = e.run_id WHERE r.group_id = ?",
                      [group]).fetchone()[0]:
            break
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid) and time.monotonic() < deadline:   # gone once its new parent has waited for it
        time.sleep(0.1)
    assert db.execute("SELECT status FROM run_groups WHERE id = ?", [group]).fetchone()[0] == "running"
    epochs_before = db.execute("SELECT run_id, epoch, metrics FROM epoch_metrics ORDER BY run_id, epoch").fetchall()
    assert epochs_before
    listed = json.loads(run_workbench("-w", ws, "studies", "ls", "--json", check=True).stdout)
    assert [(s["id"], s["status"], s["error"]) for s in listed] == [(group, "failed", f"process {pid} died")]
    report = json.loads(run_workbench("-w", ws, "studies", "show", f"g{group}", "--json", check=True).stdout)
    assert report["status"] == "failed" and report["error"] == f"process {pid} died"
    assert report["trials"] and all(t["state"] != "running" for t in report["trials"])   # Optuna's record too
    runs = db.execute("SELECT id, status, error FROM runs WHERE group_id = ?", [group]).fetchall()
    assert runs and all(status == "failed" and "died" in error for _, status, error in runs)
    # nothing stored is lost: the killed trial's epochs are all there, and the runs list shows them
    assert db.execute("SELECT run_id, epoch, metrics FROM epoch_metrics ORDER BY run_id, epoch").fetchall() == epochs_before
    again = run_workbench("-w", ws, "studies", "cancel", f"g{group}")
    assert again.returncode == 1 and "already failed" in again.stderr
