"""Per-user metrics, paired comparison and seed groups through the real CLI on the demo data."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from scipy import stats

from engine_helpers import tiny_gru_toml

TOML = tiny_gru_toml(evaluators=("ranking", "novelty"), trainer_lines='device = "cpu"\nseed = 5')


def _blob(db, run_id, split, metric):
    users = np.frombuffer(db.execute("SELECT users FROM eval_users WHERE run_id = ? AND split = ?",
                                     [run_id, split]).fetchone()[0], dtype="<i4")
    row = db.execute("SELECT vector FROM user_metrics WHERE run_id = ? AND split = ? AND metric = ?",
                     [run_id, split, metric]).fetchone()
    return users, np.frombuffer(row[0], dtype="<f4")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A demo workspace holding a 2-seed group of a tiny GRU (trained once for the module)."""
    import os
    import subprocess
    import sys
    home = tmp_path_factory.mktemp("research")
    exp = home / "tiny.toml"
    exp.write_text(TOML)
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("WORKBENCH_WORKSPACE", None)
    cli = "from workbench.cli import main; main()"
    subprocess.run([sys.executable, "-c", cli, "demo", "--no-app", "--json"], env=env, cwd=home, check=True,
                   capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", cli, "-w", "demo", "run", str(exp), "--seeds", "2", "--json"],
                         env=env, cwd=home, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return home / "demo.db", exp, json.loads(out.stdout)


def test_seed_group_stores_runs_per_user_metrics_and_summary(seeded, run_workbench):
    ws, _, result = seeded
    assert result["status"] == "completed" and len(result["run_ids"]) == 2
    db = sqlite3.connect(ws)
    seeds = [r[0] for r in db.execute("SELECT seed FROM runs WHERE group_id = ? ORDER BY id", [result["group_id"]])]
    assert seeds == [5, 6]
    for run_id in result["run_ids"]:
        test = json.loads(db.execute("SELECT test_metrics FROM runs WHERE id = ?", [run_id]).fetchone()[0])
        users, ndcg = _blob(db, run_id, "test", "NDCG@10")
        assert users.size == test["num_users"] and np.all(np.diff(users) > 0)     # one per user, ascending ids
        assert float(ndcg.astype(np.float64).mean()) == pytest.approx(test["NDCG@10"], abs=1e-6)
        _, novelty = _blob(db, run_id, "test", "Novelty@10")
        assert float(np.nanmean(novelty.astype(np.float64))) == pytest.approx(test["Novelty@10"], rel=1e-5)
        # the validation blob is the best epoch's validation
        best = db.execute("SELECT best_epoch FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        valid = json.loads(db.execute("SELECT metrics FROM epoch_metrics WHERE run_id = ? AND epoch = ?",
                                      [run_id, best]).fetchone()[0])
        _, vndcg = _blob(db, run_id, "valid", "NDCG@10")
        assert float(vndcg.astype(np.float64).mean()) == pytest.approx(valid["NDCG@10"], abs=1e-6)
    view = json.loads(run_workbench("-w", ws, "runs", "group", f"g{result['group_id']}", "--json", check=True).stdout)
    values = [r["test_metrics"]["NDCG@10"] for r in view["runs"]]
    s = view["summary"]["NDCG@10"]
    lo, hi = stats.t.interval(0.95, 1, loc=np.mean(values), scale=stats.sem(values))
    assert s["n"] == 2 and s["mean"] == pytest.approx(np.mean(values)) and s["ci_low"] == pytest.approx(lo)
    assert s["ci_high"] == pytest.approx(hi)
    groups = json.loads(run_workbench("-w", ws, "runs", "groups", "--json", check=True).stdout)
    assert [(g["kind"], g["num_runs"], g["status"]) for g in groups] == [("seeds", 2, "completed")]


def test_compare_json_matches_scipy_on_the_stored_values(seeded, run_workbench):
    ws, _, result = seeded
    a, b = result["run_ids"]
    out = json.loads(run_workbench("-w", ws, "runs", "compare", a, b, "--json", check=True).stdout)
    assert [r["id"] for r in out["runs"]] == [a, b]
    paired = out["paired"]
    assert paired["metrics"] == ["HR@10", "NDCG@10", "MRR@10", "Precision@10", "Novelty@10", "ARP@10",
                                 "PopPercentile@10"]
    assert paired["family_size"] == 7
    db = sqlite3.connect(ws)
    row = next(r for r in paired["rows"] if r["metric"] == "NDCG@10")
    _, va = _blob(db, a, "test", "NDCG@10")
    _, vb = _blob(db, b, "test", "NDCG@10")
    va, vb = va.astype(np.float64), vb.astype(np.float64)
    assert row["diff"] == pytest.approx((vb - va).mean())
    assert row["t_p"] == pytest.approx(stats.ttest_rel(vb, va).pvalue)
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(vb - va).pvalue)
    assert row["ci_low"] <= row["diff"] <= row["ci_high"]
    assert row["t_p"] <= row["t_p_holm"] <= min(1.0, 7 * row["t_p"]) + 1e-12
    assert row["significant"] == (row["t_p_holm"] < 0.05)
    # --metric restricts the Holm family; the text output marks the test used
    two = json.loads(run_workbench("-w", ws, "runs", "compare", a, b, "-m", "NDCG@10", "-m", "HR@10", "--json",
                                   check=True).stdout)["paired"]
    assert two["family_size"] == 2 and two["metrics"] == ["NDCG@10", "HR@10"]
    text = run_workbench("-w", ws, "runs", "compare", a, b, "-m", "NDCG@10", check=True).stdout
    assert "Holm" in text and "95% CI" in text
    # a group pairs with a run: its per-user values are the mean over its runs
    group = json.loads(run_workbench("-w", ws, "runs", "compare", a, f"g{result['group_id']}", "-m", "NDCG@10",
                                     "--json", check=True).stdout)["paired"]
    assert group["rows"][0]["mean_b"] == pytest.approx((va.mean() + vb.mean()) / 2, abs=1e-6)
    assert group["compared"][0]["seeds"]["NDCG@10"]["n"] == 2


def test_compare_refuses_other_protocols_and_runs_without_per_user_metrics(seeded, tmp_path, run_workbench):
    import shutil
    src, exp, result = seeded
    ws = tmp_path / "copy.db"
    shutil.copy(src, ws)
    a = result["run_ids"][0]
    sampled = tmp_path / "sampled.toml"
    sampled.write_text(TOML.replace("[trainer]", "[evaluation]\nmode = \"sampled\"\n[trainer]"))
    other = json.loads(run_workbench("-w", ws, "run", sampled, "--epochs", "0", "--json", check=True,
                                     timeout=300).stdout)["run_id"]
    out = run_workbench("-w", ws, "runs", "compare", a, other, "--json")
    assert out.returncode == 1
    assert f"cannot pair run {a} with run {other}: evaluation protocol differs" in out.stderr
    assert "evaluation.mode 'full' vs 'sampled'" in out.stderr
    # the side-by-side table stays available
    assert run_workbench("-w", ws, "runs", "compare", a, other, "--no-stats", check=True).returncode == 0
    db = sqlite3.connect(ws)
    with db:
        db.execute("DELETE FROM eval_users WHERE run_id = ?", [result["run_ids"][1]])
    out = run_workbench("-w", ws, "runs", "compare", a, result["run_ids"][1])
    assert out.returncode == 1 and "has no per-user test metrics" in out.stderr


def test_compare_pairs_a_run_stored_before_a_split_option_existed(seeded, tmp_path, run_workbench):
    """A run stored by an earlier version has no value for a split option added since (its config lacks
    the key): it was split as the option's default does, so it pairs with a run that stores the default;
    a run whose stored value differs from the default is still refused."""
    import shutil
    src, _, result = seeded
    ws = tmp_path / "old.db"
    shutil.copy(src, ws)
    a, b = result["run_ids"]
    db = sqlite3.connect(ws)
    config = json.loads(db.execute("SELECT config FROM runs WHERE id = ?", [b]).fetchone()[0])
    assert config["split"]["train_users"] == 1.0 and config["split"]["holdout_users"] == 0.0
    older = {k: v for k, v in config["split"].items() if k not in ("train_users", "train_users_seed", "holdout_users")}
    with db:
        db.execute("UPDATE runs SET config = ? WHERE id = ?", [json.dumps({**config, "split": older}), b])
    out = run_workbench("-w", ws, "runs", "compare", a, b, "-m", "NDCG@10", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["paired"]["rows"][0]["metric"] == "NDCG@10"
    with db:
        db.execute("UPDATE runs SET config = ? WHERE id = ?",
                   [json.dumps({**config, "split": {**older, "train_users": 0.5}}), b])
    out = run_workbench("-w", ws, "runs", "compare", a, b, "--json")
    assert out.returncode == 1 and "split.train_users 1.0 vs 0.5" in out.stderr


def test_a_killed_foreground_seed_group_is_failed_by_its_readers(seeded, tmp_path, run_workbench):
    """SIGKILL of `workbench run EXP --seeds 3` during its first seed: `runs groups` fails the group with the
    reason instead of showing it running forever; the killed run and the two never started are failed, and
    the killed run's stored epochs are kept."""
    import os
    import shutil
    import subprocess
    import sys
    import time
    src, _, _ = seeded
    ws = tmp_path / "killed.db"
    shutil.copy(src, ws)
    exp = tmp_path / "long.toml"
    exp.write_text(tiny_gru_toml(epochs=40, trainer_lines='device = "cpu"\nseed = 5'))
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_WORKSPACE", "PYTHONWARNINGS")}
    proc = subprocess.Popen([sys.executable, "-c", "from workbench.cli import main; main()", "-w", str(ws), "run",
                             str(exp), "--seeds", "3", "--json"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = sqlite3.connect(ws)
    deadline = time.monotonic() + 600
    group = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:   # wait until its first seed stored an epoch
            row = db.execute("SELECT r.group_id FROM epoch_metrics e JOIN runs r ON r.id = e.run_id "
                             "WHERE r.group_id IS NOT NULL AND r.group_id != ? LIMIT 1", [seeded[2]["group_id"]]).fetchone()
            if row:
                group = row[0]
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    assert group is not None
    assert db.execute("SELECT pid FROM run_groups WHERE id = ?", [group]).fetchone()[0] == proc.pid
    epochs = db.execute("SELECT run_id, epoch, metrics FROM epoch_metrics ORDER BY run_id, epoch").fetchall()
    groups = json.loads(run_workbench("-w", ws, "runs", "groups", "--json", check=True).stdout)
    assert [(g["status"], g["error"]) for g in groups if g["id"] == group] == [("failed", f"process {proc.pid} died")]
    runs = db.execute("SELECT status, error FROM runs WHERE group_id = ? ORDER BY id", [group]).fetchall()
    assert runs[0] == ("failed", f"process {proc.pid} died")
    assert runs[1:] == [("failed", f"never started: the process driving group g{group} ({proc.pid}) died")] * 2
    assert db.execute("SELECT run_id, epoch, metrics FROM epoch_metrics ORDER BY run_id, epoch").fetchall() == epochs


def test_a_resumed_run_stores_the_best_epochs_validation_per_user(tmp_path):
    """After a cancel and a resume the best epoch may predate this process: its validation is
    re-evaluated from the best weights, and the stored values still average to that epoch's metric."""
    from workbench.data.demo import import_demo
    from workbench.engine.runner import create_run, execute_run
    from workbench.store import open_workspace
    ws = tmp_path / "ws.db"
    with open_workspace(ws, create=True) as w:
        import_demo(w)
        config = {"name": "resume", "dataset": "demo", "model": {"dim": 16, "max_len": 20},
                  "views": [{"type": "gru"}], "head": {"type": "softmax_ce"},
                  "evaluators": [{"type": "ranking", "ks": [10]}],
                  "trainer": {"epochs": 2, "batch_size": 256, "lr": 5e-3, "device": "cpu", "patience": 0}}
        run_id = create_run(w, config)
    epochs_done = []
    execute_run(ws, run_id, listeners=[lambda e: e.kind == "epoch_finished" and epochs_done.append(e)],
                should_stop=lambda: bool(epochs_done))
    db = sqlite3.connect(ws)
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "cancelled"
    assert db.execute("SELECT COUNT(*) FROM eval_users WHERE run_id = ?", [run_id]).fetchone()[0] == 0
    execute_run(ws, run_id, resume=True)
    best = db.execute("SELECT best_epoch FROM runs WHERE id = ?", [run_id]).fetchone()[0]
    valid = json.loads(db.execute("SELECT metrics FROM epoch_metrics WHERE run_id = ? AND epoch = ?",
                                  [run_id, best]).fetchone()[0])
    _, ndcg = _blob(db, run_id, "valid", "NDCG@10")
    assert float(ndcg.astype(np.float64).mean()) == pytest.approx(valid["NDCG@10"], abs=1e-6)
    assert _blob(db, run_id, "test", "NDCG@10")[1].size > 0
