"""`workbench demo --train` (what `make demo` runs) trains the ready experiment and stores the run."""

import json
import sqlite3


def test_demo_train_stores_a_completed_run_with_metrics(wb_home, run_workbench):
    out = run_workbench("demo", "--train", "--epochs", "1", "--no-app", "--json", check=True)
    result = json.loads(out.stdout)
    run = result["run"]
    assert run["experiment"] == "demo-sasrec"
    assert 0.0 <= run["test_metrics"]["NDCG@10"] <= run["test_metrics"]["HR@10"] <= 1.0
    db = sqlite3.connect(wb_home / "demo.db")
    status, experiment = db.execute(
        "SELECT r.status, e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?",
        [run["run_id"]]).fetchone()
    assert (status, experiment) == ("completed", "demo-sasrec")
    assert db.execute("SELECT COUNT(*) FROM epoch_metrics WHERE run_id = ?", [run["run_id"]]).fetchone()[0] == 1
    names = {r[0] for r in db.execute("SELECT name FROM experiments")}
    assert {"demo-sasrec", "demo-multiview"} <= names
