"""Runs on the demo data: recorded as they go, checkpoints load with weights_only, cancel + resume,
failures stored, and a trained SASRec beats the popularity baseline."""

from __future__ import annotations

import json

import pytest
import torch

from engine_helpers import DATASET, copy_workspace, demo_workspace, tiny_config
from workbench.engine.checkpoint import checkpoint_path, sha256_file
from workbench.engine.runner import create_run, execute_run
from workbench.options import ConfigError
from workbench.store import open_workspace


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory):
    return demo_workspace(tmp_path_factory)


@pytest.fixture
def ws_path(ws_template, tmp_path):
    return copy_workspace(ws_template, tmp_path)


def _run(ws_path, config, **kw):
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, config)
    return run_id, execute_run(ws_path, run_id, **kw)


def test_run_is_recorded_with_epochs_metrics_and_checkpoints(ws_path):
    events = []
    run_id, test = _run(ws_path, tiny_config(epochs=2), listeners=[events.append])
    assert 0.0 <= test["NDCG@10"] <= test["HR@10"] <= 1.0
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and kinds.count("epoch_finished") == 2
    with open_workspace(ws_path) as ws:
        run = dict(next(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id])))
        assert run["status"] == "completed" and run["device"] == "cpu" and run["seed"] == 7
        assert json.loads(run["test_metrics"])["NDCG@10"] == pytest.approx(test["NDCG@10"])
        groups = json.loads(run["test_groups"])                      # the multi-scale breakdown is stored
        assert set(groups["groups"]) == {"short", "medium", "long"}
        assert sum(groups["group_sizes"].values()) == test["num_users"]
        b1, b2 = groups["group_bounds"]
        assert b1 < b2 and all(0.0 <= m["NDCG@10"] <= 1.0 for m in groups["groups"].values())
        assert "torch" in json.loads(run["versions"]) and run["data_fingerprint"]
        assert json.loads(run["config"])["views"][0]["blocks"] == 1
        epochs = list(ws.db.query("SELECT * FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id]))
        assert [e["epoch"] for e in epochs] == [1, 2]
        assert all(e["train_loss"] > 0 and "NDCG@10" in json.loads(e["metrics"]) and e["wall_time"] > 0
                   for e in epochs)
        assert json.loads(run["progress"])["epoch"] == 2
        best = checkpoint_path(ws, run_id, "best")
        last = checkpoint_path(ws, run_id, "last")
        assert best is not None and last is not None and best.parent == ws.files_dir / "runs" / str(run_id)
        rows = {r["path"]: r["sha256"] for r in ws.db.query("SELECT * FROM checkpoints WHERE run_id = ?", [run_id])}
        assert sorted(sha256_file(p) for p in (best, last)) == sorted(rows.values())
    state = torch.load(last, weights_only=True)
    assert state["train_state"]["epoch"] == 2 and "optimizer" in state and "torch_rng" in state
    assert any(k.endswith("items.table.weight") for k in torch.load(best, weights_only=True)["model"])


def test_cancel_then_resume_continues_from_the_checkpoint(ws_path):
    cfg = tiny_config(epochs=3, batch_size=64)
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, cfg)
    assert execute_run(ws_path, run_id, should_stop=lambda: True) == {}   # polled after ~1 s of training or after epoch 1
    with open_workspace(ws_path) as ws:
        run = dict(next(ws.db.query("SELECT status FROM runs WHERE id = ?", [run_id])))
        assert run["status"] == "cancelled"
        last = checkpoint_path(ws, run_id, "last")   # none when the first epoch was cancelled half-way
        done = torch.load(last, weights_only=True)["train_state"]["epoch"] if last else 0
        assert done < 3
        recorded = [r["epoch"] for r in ws.db.query("SELECT epoch FROM epoch_metrics WHERE run_id = ?", [run_id])]
        assert recorded == list(range(1, done + 1))
    test = execute_run(ws_path, run_id, resume=True)
    assert "NDCG@10" in test
    with open_workspace(ws_path) as ws:
        assert next(ws.db.query("SELECT status FROM runs WHERE id = ?", [run_id]))["status"] == "completed"
        epochs = [r["epoch"] for r in ws.db.query("SELECT epoch FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                                                  [run_id])]
        assert epochs == [1, 2, 3]
        messages = [r["message"] for r in ws.db.query("SELECT message FROM run_events WHERE run_id = ?", [run_id])]
        assert done == 0 or any(m.startswith(f"resumed after epoch {done} from its last checkpoint (last-")
                                for m in messages)


def test_failure_is_stored_and_earlier_records_stay(ws_path):
    with open_workspace(ws_path) as ws:
        with pytest.raises(ConfigError, match="trainer.monitor: 'NOPE@10' is not a validation metric"):
            create_run(ws, tiny_config(epochs=1, monitor="NOPE@10"))    # rejected before any row is written
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        run_id = create_run(ws, tiny_config(epochs=1))
        cfg = json.loads(ws.db.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()[0])
        cfg["trainer"]["monitor"] = "NOPE@10"      # a stored run that fails in training (as an older build allowed)
        ws.db.execute("UPDATE runs SET config = ? WHERE id = ?", [json.dumps(cfg), run_id])
        ws.db.conn.commit()
    with pytest.raises(ConfigError, match="trainer.monitor"):
        execute_run(ws_path, run_id)
    with open_workspace(ws_path) as ws:
        run = dict(next(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id])))
        assert run["status"] == "failed" and "trainer.monitor" in run["error"] and "Traceback" in run["error"]
        assert ws.db.execute("SELECT COUNT(*) FROM run_events WHERE run_id = ?", [run_id]).fetchone()[0] >= 2


def test_create_run_validates_and_inserts_nothing_on_error(ws_path):
    with open_workspace(ws_path) as ws:
        with pytest.raises(ConfigError, match=r"^dataset"):
            create_run(ws, {**tiny_config(), "dataset": "nope"})
        with pytest.raises(ConfigError, match=r"^views\[0\]\.heads"):
            create_run(ws, {**tiny_config(), "views": [{"type": "sasrec", "heads": 0}]})
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("length_buckets", [False, True], ids=["mixed-batches", "length-buckets"])
def test_trained_sasrec_beats_popularity(ws_path, length_buckets):
    _, pop = _run(ws_path, {"name": "pop", "dataset": DATASET, "model": {"max_len": 50},
                            "head": {"type": "popularity"}, "evaluators": [{"type": "ranking", "ks": [10]}]})
    _, sas = _run(ws_path, tiny_config(epochs=4, lr=5e-3, length_buckets=length_buckets))
    assert sas["NDCG@10"] > pop["NDCG@10"] * 1.1, (sas["NDCG@10"], pop["NDCG@10"])
