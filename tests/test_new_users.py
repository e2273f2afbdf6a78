"""New users (issue 16, item 4): `recommend --history` for a person the dataset never saw, and
`split.holdout_users` (users held out of training, evaluated as new users). Generated demo data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from demo_run_helpers import cli, config, demo_workspace, train
from workbench.data.dataset import load_dataset
from workbench.store import open_workspace


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ws = demo_workspace(tmp_path_factory.mktemp("new_users"))
    return ws, train(ws, config())


def test_recommend_history_serves_a_new_person_like_the_same_history_of_a_known_user(trained):
    ws, run_id = trained
    with open_workspace(ws) as w:
        ds = load_dataset(w, "demo")
    user = int(np.argmax(ds.lengths[1:])) + 1
    raw_history = [ds.item_raw_ids[i] for i in ds.sequence(user)]
    as_user = json.loads(cli(ws, "recommend", "--run", run_id, "--user", ds.user_raw_ids[user], "-k", "7",
                             "--json").stdout)
    out = cli(ws, "recommend", "--run", run_id, "--history", ",".join(raw_history), "-k", "7", "--json")
    assert out.returncode == 0, out.stderr
    new = json.loads(out.stdout)
    assert new["history"] == raw_history and new["history_length"] == len(raw_history)
    # an ID-only SASRec reads neither times, actions nor the user id: the same history, the same list
    assert [r["item"] for r in new["items"]] == [r["item"] for r in as_user["items"]]
    assert [r["score"] for r in new["items"]] == pytest.approx([r["score"] for r in as_user["items"]], abs=1e-5)
    titles = dict(zip(ds.item_raw_ids, ds.item_titles))
    for r in new["items"]:
        assert r["raw_id"] == r["item"] and r["title"] == titles[r["item"]] and r["title"]
        assert r["item"] not in raw_history                                   # seen items are excluded

    short = json.loads(cli(ws, "recommend", "--run", run_id, "--history", raw_history[0], "-k", "3",
                           "--json").stdout)
    assert len(short["items"]) == 3 and raw_history[0] not in {r["item"] for r in short["items"]}
    text = cli(ws, "recommend", "--run", run_id, "--history", raw_history[0], "-k", "3")
    assert text.returncode == 0 and "a new user (1 items)" in text.stdout


def test_recommend_history_names_unknown_item_ids_in_one_line(trained):
    ws, run_id = trained
    with open_workspace(ws) as w:
        known = load_dataset(w, "demo").item_raw_ids[1]
    out = cli(ws, "recommend", "--run", run_id, "--history", f"{known},no-such-item,zz9")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("Error:") and "'no-such-item'" in line and "'zz9'" in line and f"'{known}'" not in line
    both = cli(ws, "recommend", "--run", run_id, "--user", "1", "--history", known)
    assert both.returncode != 0 and "exactly one of --user" in both.stderr
    empty = cli(ws, "recommend", "--run", run_id, "--history", f"{known},,")
    assert empty.returncode != 0 and "--history" in empty.stderr


def test_holdout_users_never_train_and_are_reported_as_new_users(tmp_path):
    ws_path = demo_workspace(tmp_path)
    cfg = config(split={"holdout_users": 0.25, "holdout_seed": 2})
    from workbench.engine.config import parse_config
    from workbench.engine.runner import create_run, execute_run
    from workbench.engine.session import RunSession
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, cfg)
        session = RunSession(ws, run_id, parse_config(cfg), record=False)
    held = session.built.held_out_users
    assert held.sum() == 30 and not held[0]
    assert not held[session.train.users.numpy()].any()                         # no training window of theirs
    assert all(not session.ctx.train_sequences[u] for u in np.flatnonzero(held))
    ds, split = session.dataset, session.built.train_split
    in_training = np.zeros(ds.n_items + 1)
    for u in range(1, ds.n_users + 1):
        np.add.at(in_training, ds.items[ds.offsets[u]:split.train_end[u]], 1)
    assert torch.equal(session.ctx.item_popularity, torch.from_numpy(in_training).float())
    assert held[session.split.test_users].any()                               # they are still tested

    test = execute_run(ws_path, run_id)
    assert test["new_num_users"] + test["known_num_users"] == test["num_users"] and test["new_num_users"] > 0
    mixed = (test["new_NDCG@10"] * test["new_num_users"] + test["known_NDCG@10"] * test["known_num_users"]) \
        / test["num_users"]
    assert mixed == pytest.approx(test["NDCG@10"])
