"""A run never serves, explains or resumes on data it was not trained on; replacing or removing a
dataset that runs were trained on is refused without --force (issue 15, item 1)."""

from __future__ import annotations

import json

import pytest

from integrity_helpers import CSV_MAP, cli, one_line_error, tiny_experiment, write_experiment, write_ratings
from workbench.store import open_workspace


@pytest.fixture
def trained(tmp_path):
    """A workspace with dataset ``r`` and one completed run on it (through the real CLI)."""
    ws = tmp_path / "ws.db"
    data = write_ratings(tmp_path / "r.csv")
    out = cli(ws, "data", "import", data, "--name", "r", "--format", "csv", "--map", CSV_MAP)
    assert out.returncode == 0, out.stderr
    exp = write_experiment(tmp_path / "tiny.toml", tiny_experiment(1))
    out = cli(ws, "run", exp, "--json")
    assert out.returncode == 0, out.stderr
    return ws, data, json.loads(out.stdout)["run_id"]


def _fingerprint(ws_path) -> str:
    with open_workspace(ws_path) as ws:
        return ws.db.execute("SELECT fingerprint FROM datasets WHERE name = 'r'").fetchone()[0]


def test_replace_with_other_data_is_refused_then_forced_and_recommend_refuses(trained, tmp_path):
    ws, data, run_id = trained
    out = cli(ws, "recommend", "--run", run_id, "--user", "1", "--json")
    assert out.returncode == 0, out.stderr
    before = _fingerprint(ws)
    permuted = write_ratings(tmp_path / "permuted.csv", permute_items=True)
    refused = cli(ws, "data", "import", permuted, "--name", "r", "--format", "csv", "--map", CSV_MAP, "--replace")
    msg = one_line_error(refused)
    assert f"run(s) {run_id}" in msg and "--force" in msg
    assert _fingerprint(ws) == before, "a refused replace must leave the dataset as it was"

    same = cli(ws, "data", "import", data, "--name", "r", "--format", "csv", "--map", CSV_MAP, "--replace")
    assert same.returncode == 0, same.stderr            # the same data again: harmless, the run follows it
    ls = json.loads(cli(ws, "runs", "ls", "--json").stdout)
    assert ls[0]["dataset"] == "r"
    assert cli(ws, "recommend", "--run", run_id, "--user", "1").returncode == 0

    forced = cli(ws, "data", "import", permuted, "--name", "r", "--format", "csv", "--map", CSV_MAP,
                 "--replace", "--force")
    assert forced.returncode == 0, forced.stderr
    assert _fingerprint(ws) != before
    msg = one_line_error(cli(ws, "recommend", "--run", run_id, "--user", "1"))
    assert f"run {run_id} was trained on other data" in msg
    # the run keeps its history, detached from the data
    shown = json.loads(cli(ws, "runs", "show", run_id, "--json").stdout)
    assert shown["status"] == "completed" and shown["test_metrics"] and shown["dataset"] is None


def test_rm_of_a_dataset_with_runs_is_refused_without_force(trained):
    ws, _, run_id = trained
    msg = one_line_error(cli(ws, "data", "rm", "r", "--yes"))
    assert f"run(s) {run_id}" in msg and "--force" in msg
    assert _fingerprint(ws)
    out = cli(ws, "data", "rm", "r", "--yes", "--force")
    assert out.returncode == 0, out.stderr
    msg = one_line_error(cli(ws, "recommend", "--run", run_id, "--user", "1"))
    assert "no longer in" in msg


def test_explain_and_resume_refuse_a_run_whose_data_changed(trained, tmp_path):
    from workbench.store.runs import DataChanged
    from workbench.engine.inspection import KeptRun

    ws, _, run_id = trained
    out = cli(ws, "data", "import", write_ratings(tmp_path / "p.csv", permute_items=True), "--name", "r",
              "--format", "csv", "--map", CSV_MAP, "--replace", "--force")
    assert out.returncode == 0, out.stderr
    with pytest.raises(DataChanged, match="trained on other data"):
        KeptRun(device="cpu").get(ws, run_id)          # what the Inspect screen calls
    with open_workspace(ws) as w:
        w.db.execute("UPDATE runs SET status = 'cancelled' WHERE id = ?", [run_id])
        w.db.conn.commit()
    msg = one_line_error(cli(ws, "runs", "resume", run_id))
    assert "fingerprint differs" in msg or "other data" in msg
