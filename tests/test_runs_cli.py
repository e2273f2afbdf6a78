"""The real `workbench run / runs / recommend` commands in subprocesses on the demo data."""

from __future__ import annotations

import json

import pytest

from engine_helpers import DATASET, copy_workspace, demo_workspace, tiny_gru_toml

TOML = tiny_gru_toml(name="cli-tiny", max_len=30, epochs=5, trainer_lines="")


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory):
    return demo_workspace(tmp_path_factory)


def test_run_ls_show_compare_recommend_rm(ws_template, tmp_path, run_workbench):
    ws = copy_workspace(ws_template, tmp_path)
    exp = tmp_path / "exp.toml"
    exp.write_text(TOML)
    out = run_workbench("-w", ws, "run", exp, "--epochs", "1", "--device", "cpu", "--json", check=True, timeout=300)
    result = json.loads(out.stdout)
    run_id = result["run_id"]
    assert 0 <= result["test_metrics"]["NDCG@10"] <= 1
    second = json.loads(run_workbench("-w", ws, "run", exp, "--epochs", "1", "--json", check=True,
                                      timeout=300).stdout)["run_id"]

    runs = json.loads(run_workbench("-w", ws, "runs", "ls", "--json", check=True).stdout)
    assert [r["id"] for r in runs] == [second, run_id] and all(r["status"] == "completed" for r in runs)
    show = json.loads(run_workbench("-w", ws, "runs", "show", run_id, "--json", check=True).stdout)
    assert show["config"]["trainer"]["epochs"] == 1 and [e["epoch"] for e in show["epochs"]] == [1]
    assert {c["is_best"] for c in show["checkpoints"]} == {0, 1}
    assert set(show["test_groups"]["groups"]) == {"short", "medium", "long"}
    text = run_workbench("-w", ws, "runs", "show", run_id, check=True).stdout
    assert "test short" in text and "test long" in text and "users)" in text
    cmp = json.loads(run_workbench("-w", ws, "runs", "compare", run_id, second, "--json", check=True).stdout)
    assert [c["id"] for c in cmp["runs"]] == [run_id, second] and "NDCG@10" in cmp["runs"][0]["metrics"]
    assert {r["metric"] for r in cmp["paired"]["rows"]} >= {"NDCG@10", "HR@10"}
    text = run_workbench("-w", ws, "runs", "compare", run_id, second, check=True).stdout
    assert "NDCG@10" in text

    recs = json.loads(run_workbench("-w", ws, "recommend", "--run", run_id, "--user", "1", "-k", "5", "--json",
                                    check=True).stdout)
    assert len(recs["items"]) == 5 and all(r["title"] for r in recs["items"])
    scores = [r["score"] for r in recs["items"]]
    assert scores == sorted(scores, reverse=True)
    # seen items are excluded: none of the items in user 1's history is recommended
    from workbench.data.dataset import load_dataset
    from workbench.store import open_workspace
    with open_workspace(ws) as w:
        ds = load_dataset(w, DATASET)
        user = ds.user_raw_ids.index("1")
        seen = {ds.item_raw_ids[i] for i in ds.sequence(user)}
    assert not seen & {r["item"] for r in recs["items"]}

    bad_user = run_workbench("-w", ws, "recommend", "--run", run_id, "--user", "no-such-user")
    assert bad_user.returncode != 0 and "no-such-user" in bad_user.stderr

    run_workbench("-w", ws, "runs", "rm", second, check=True)
    runs = json.loads(run_workbench("-w", ws, "runs", "ls", "--json", check=True).stdout)
    assert [r["id"] for r in runs] == [run_id]
    assert not (ws.with_suffix(".files") / "runs" / str(second)).exists()


def test_bad_experiment_names_the_key_and_stores_nothing(ws_template, tmp_path, run_workbench):
    ws = copy_workspace(ws_template, tmp_path)
    exp = tmp_path / "bad.toml"
    exp.write_text(TOML.replace("type = \"gru\"", "type = \"gru\"\nlayers = 0"))
    out = run_workbench("-w", ws, "run", exp)
    assert out.returncode != 0 and "views[0].layers" in out.stderr and "bad.toml" in out.stderr
    assert json.loads(run_workbench("-w", ws, "runs", "ls", "--json", check=True).stdout) == []
