"""Cold-start protocol on the demo data: held-out items never reach training (not as inputs,
targets, graph edges or softmax negatives), evaluation keeps the real histories, and the test
metrics are also given for the users whose test item is held out."""

from __future__ import annotations

import json

import pytest
import torch

from engine_helpers import DATASET, copy_workspace, demo_workspace, tiny_config
from workbench.data.cold_start import held_out_items, training_without
from workbench.data.dataset import load_dataset, make_split
from workbench.engine.runner import create_run, execute_run, run_config
from workbench.engine.session import RunSession
from workbench.store import open_workspace


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory):
    return demo_workspace(tmp_path_factory)


def test_held_out_items_leave_training_and_nothing_else(ws_template):
    with open_workspace(ws_template) as ws:
        ds = load_dataset(ws, DATASET)
    split = make_split(ds, "loo")
    held = held_out_items(ds.n_items, 0.1, seed=3)
    assert held.sum() == round(0.1 * ds.n_items) and not held[0]
    assert (held == held_out_items(ds.n_items, 0.1, seed=3)).all()          # seeded
    train_ds, train_split = training_without(ds, split, held)
    for u in range(1, ds.n_users + 1):
        original = ds.items[ds.offsets[u]:split.train_end[u]]
        kept = train_ds.items[train_ds.offsets[u]:train_split.train_end[u]]
        assert (kept == original[~held[original]]).all()                    # same order, only held-out gone
    assert not held[train_ds.items].any()
    assert len(train_split.test_users) == 0 and ds.items is not train_ds.items
    assert held[ds.items[split.test_pos]].any()                              # some test targets are cold


def test_cold_start_run_never_trains_held_out_items_and_reports_cold_users(ws_template, tmp_path):
    ws_path = copy_workspace(ws_template, tmp_path)
    config = tiny_config(epochs=1)
    config["split"] = {"holdout_items": 0.2, "holdout_seed": 1}
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, config)
        _, cfg = run_config(ws, run_id)
        session = RunSession(ws, run_id, cfg, record=False)
    held = torch.from_numpy(session.held_out)
    rows = session.train.tensors()
    assert not held[rows.items].any() and not held[rows.targets].any()
    assert all(not held[torch.tensor(s, dtype=torch.long)].any() for s in session.ctx.train_sequences if s)
    assert (session.ctx.item_popularity[held] == 0).all()
    # one training step: the held-out items get no gradient at all (not even as negatives)
    model = session.model.train()
    model.loss(session.train.batch(torch.arange(64))).backward()
    grad = next(p.grad for n, p in model.named_parameters() if n.endswith("items.table.weight"))
    assert grad[held].abs().sum() == 0 and grad[~held][1:].abs().sum() > 0

    test = execute_run(ws_path, run_id)
    assert test["cold_num_users"] + test["warm_num_users"] == test["num_users"]
    assert test["cold_num_users"] > 0 and 0.0 <= test["cold_NDCG@10"] <= 1.0
    # the overall metric is the user-weighted mean of the cold and warm groups
    mixed = (test["cold_NDCG@10"] * test["cold_num_users"] + test["warm_NDCG@10"] * test["warm_num_users"]) \
        / test["num_users"]
    assert mixed == pytest.approx(test["NDCG@10"])
    with open_workspace(ws_path) as ws:
        stored = json.loads(ws.db.execute("SELECT test_metrics FROM runs WHERE id = ?", [run_id]).fetchone()[0])
    assert stored["cold_num_users"] == test["cold_num_users"]


def test_bad_holdout_share_names_the_key(ws_template, tmp_path):
    from workbench.options import ConfigError

    config = tiny_config()
    config["split"] = {"holdout_items": 1.5}
    with open_workspace(copy_workspace(ws_template, tmp_path)) as ws, pytest.raises(ConfigError, match="holdout_items"):
        create_run(ws, config)
