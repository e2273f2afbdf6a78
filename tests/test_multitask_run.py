"""A multi-task run through the engine records the next-action metrics (accuracy, macro F1,
AUC and F1 of 'next event is a purchase') with validation and test metrics, computed over
every evaluated user (not averaged per batch)."""

from __future__ import annotations

import json

import pytest

from demo_run_helpers import demo_workspace, train, train_and_test
from workbench.store import open_workspace

ACTION_METRICS = {"action_accuracy", "action_macro_f1", "purchase_auc", "purchase_f1"}


@pytest.fixture
def ws_path(tmp_path):
    return demo_workspace(tmp_path, users=300, items=200, sessions_per_user=6)


def test_multitask_run_records_action_metrics_for_validation_and_test(ws_path):
    config = {"name": "mt", "dataset": "demo", "model": {"dim": 32, "max_len": 30},
              "views": [{"type": "sasrec", "blocks": 1}, {"type": "action"}],
              "fusion": {"type": "concat"},
              "head": {"type": "multitask", "positive_action": "purchase", "action_weight": 1.0},
              "evaluators": [{"type": "ranking", "ks": [10]}],
              # eval_batch_size < users: the metrics must be computed over the concatenation
              "trainer": {"epochs": 2, "lr": 3e-3, "patience": 0, "eval_batch_size": 64, "seed": 1}}
    run_id, test = train_and_test(ws_path, config)
    assert ACTION_METRICS <= set(test)
    assert 0.0 <= test["action_macro_f1"] <= 1.0 and 0.0 <= test["purchase_f1"] <= 1.0
    # four funnel stages: a trained classifier beats guessing uniformly, and ranks purchases above chance
    assert test["action_accuracy"] > 0.25 and test["purchase_auc"] > 0.5, test
    with open_workspace(ws_path) as ws:
        stored = json.loads(ws.db.execute("SELECT test_metrics FROM runs WHERE id = ?", [run_id]).fetchone()[0])
        epochs = [json.loads(r[0]) for r in ws.db.execute(
            "SELECT metrics FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id])]
    assert stored["purchase_auc"] == pytest.approx(test["purchase_auc"])
    assert all(ACTION_METRICS <= set(m) for m in epochs)


def test_a_run_can_stop_early_on_an_action_metric(ws_path):
    config = {"name": "mt", "dataset": "demo", "model": {"dim": 16, "max_len": 20},
              "views": [{"type": "action"}], "head": {"type": "multitask", "positive_action": "purchase"},
              "evaluators": [{"type": "ranking", "ks": [10]}],
              "trainer": {"epochs": 1, "monitor": "purchase_auc", "patience": 1}}
    run_id = train(ws_path, config)
    with open_workspace(ws_path) as ws:
        assert ws.db.execute("SELECT best_epoch FROM runs WHERE id = ?", [run_id]).fetchone()[0] == 1
