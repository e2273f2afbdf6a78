"""SQN head (Q-learning beside the supervised head): TD targets and loss on hand-checked cases,
rewards from actions and ratings, the target network's Polyak update, and a real run on the demo
funnel data that reports ranking metrics on purchase and click targets separately."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from demo_run_helpers import demo_workspace, train_and_test
from workbench.kinds import Rankings
from workbench.model.base import DataContext, SeqBatch
from workbench.options import ConfigError, parse_options
from workbench.store import open_workspace
from workbench_plugins.evaluators.action_ranking import ActionRankingOptions
from workbench_plugins.evaluators.action_ranking_impl import ActionRankingEvaluator
from workbench_plugins.heads.sqn import SQNOptions
from workbench_plugins.heads.sqn_impl import SQNHead, td_targets

INF = float("inf")


def test_td_targets_double_q_and_max_on_a_hand_checked_case():
    rewards = torch.tensor([1.0, 0.2, 0.5])
    online = torch.tensor([[-INF, 1.0, 3.0, 2.0], [-INF, 5.0, 0.0, 1.0], [-INF, 0.0, 9.0, 0.0]])
    target = torch.tensor([[-INF, 4.0, 2.0, 7.0], [-INF, 1.0, 8.0, 0.0], [-INF, 3.0, 3.0, 3.0]])
    done = torch.tensor([False, False, True])
    # double Q: the online head picks items 2 and 1, the target head values them at 2.0 and 1.0
    double = td_targets(rewards, online, target, done, gamma=0.5, double_q=True)
    assert double.tolist() == pytest.approx([1.0 + 0.5 * 2.0, 0.2 + 0.5 * 1.0, 0.5])
    # plain max over the target head: 7.0 and 8.0; a terminal state keeps only its reward
    plain = td_targets(rewards, online, target, done, gamma=0.5, double_q=False)
    assert plain.tolist() == pytest.approx([1.0 + 0.5 * 7.0, 0.2 + 0.5 * 8.0, 0.5])


def _head(actions=("click", "purchase"), **options) -> SQNHead:
    ctx = DataContext(num_items=3, num_users=1, max_len=3, actions=list(actions), tied_item_table=False)
    head = SQNHead(parse_options(SQNOptions, {"tau": 0.0, "gamma": 0.5, **options}, "head"), ctx, dim=1)
    with torch.no_grad():       # Q(s, i) = w_i * s: online w = (1, 2, -1), target w = (2, 1, 0) for items 1..3
        head.q.weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [-1.0]]))
        head.q.bias.zero_()
        head.q_target_weight.copy_(torch.tensor([[0.0], [2.0], [1.0], [0.0]]))
        head.q_target_bias.zero_()
    return head


def _batch(**kw) -> tuple[torch.Tensor, SeqBatch]:
    # one row, L = 3: padding, then item 1 (state 1.0), then item 2 (state 2.0); targets 2 and 3
    fused = torch.tensor([[[0.0], [1.0], [2.0]]])
    batch = SeqBatch(items=torch.tensor([[0, 1, 2]]), targets=torch.tensor([[0, 2, 3]]), users=torch.tensor([1]),
                     **kw)
    return fused, batch


def test_td_loss_on_a_hand_checked_sequence():
    # position 1: s = 1, a = 2 -> Q = 2; next state s' = 2: online Q(s') = (2, 4, -2) picks item 2,
    #   the target values it 1 * 2 = 2; reward of a click 0.2 -> y = 0.2 + 0.5 * 2 = 1.2, error 0.8
    # position 2: s = 2, a = 3 -> Q = -2; the window ends (done) -> y = reward of a purchase = 1.0, error -3
    fused, batch = _batch(target_actions=torch.tensor([[0, 1, 2]]))
    head = _head()
    assert float(head.td_loss(fused, batch).detach()) == pytest.approx(0.5 * (0.8 ** 2 + 3.0 ** 2) / 2)
    # without double Q: max of the target head at s' = 2 is 2 * 2 = 4 -> y = 2.2, error -0.2
    head = _head(double_q=False)
    assert float(head.td_loss(fused, batch).detach()) == pytest.approx(0.5 * (0.2 ** 2 + 3.0 ** 2) / 2)


def test_rewards_follow_the_configured_action_order_and_fall_back_to_ratings():
    fused, batch = _batch(target_actions=torch.tensor([[0, 1, 2]]))
    head = _head(rewards={"click": 0.3, "purchase": 2.0})
    assert head.rewards(batch, batch.targets > 0).tolist() == pytest.approx([0.3, 2.0])
    # no action type named in rewards (ratings data): (rating - center) * scale, missing rating -> default
    fused, batch = _batch(target_values=torch.tensor([[float("nan"), 4.0, float("nan")]]))
    head = _head(actions=(), rating_center=3.0, rating_scale=0.5, default_reward=-1.0)
    assert head.rewards(batch, batch.targets > 0).tolist() == pytest.approx([0.5, -1.0])
    with pytest.raises(ValueError, match="no rewards"):
        head.rewards(_batch()[1], batch.targets > 0)
    with pytest.raises(ValueError, match="head.rewards"):
        _head(actions=("1", "2"), reward_source="actions")
    with pytest.raises(ConfigError, match="rewards.click"):
        parse_options(SQNOptions, {"rewards": {"click": "high"}}, "head")


def test_training_loss_moves_the_target_head_towards_the_online_head_by_tau():
    fused, batch = _batch(target_actions=torch.tensor([[0, 1, 2]]))
    head = _head(tau=0.25)
    head.train()
    online, target = head.q.weight.detach().clone(), head.q_target_weight.clone()
    loss = head.loss(fused, batch, torch.randn(4, 1))
    assert torch.allclose(head.q_target_weight, 0.75 * target + 0.25 * online)
    loss.backward()
    assert head.q.weight.grad is not None and bool(head.q.weight.grad.abs().sum() > 0)
    head.eval()
    with torch.no_grad():
        head.loss(fused, batch, torch.randn(4, 1))
    assert torch.allclose(head.q_target_weight, 0.75 * target + 0.25 * online)   # evaluation leaves it alone


def test_action_ranking_evaluator_splits_metrics_by_the_target_action():
    ranks = np.array([0, 3, 20, 1, 5])
    acts = np.array([2, 1, 2, 0, 3])                 # purchase, click, purchase, none, view
    r = Rankings(target_rank=ranks, topk=np.zeros((5, 1), int), targets=np.ones(5, int),
                 num_candidates=np.full(5, 100), item_popularity=np.ones(10), history_length=np.ones(5, int),
                 target_actions=acts, action_names=("click", "purchase", "view"))
    ev = ActionRankingEvaluator(parse_options(ActionRankingOptions, {"ks": [10], "actions": ["purchase", "click",
                                                                                              "cart"]}, "e"))
    out = ev.evaluate(r)
    assert out["purchase_num_users"] == 2 and out["click_num_users"] == 1 and out["cart_num_users"] == 0
    assert out["purchase_HR@10"] == pytest.approx(0.5)
    assert out["purchase_NDCG@10"] == pytest.approx((1.0 + 0.0) / 2)
    assert out["click_NDCG@10"] == pytest.approx(1 / math.log2(5))
    assert not any(k.startswith("cart_") and k != "cart_num_users" for k in out)
    no_actions = Rankings(ranks, np.zeros((5, 1), int), np.ones(5, int), np.full(5, 100), np.ones(10), np.ones(5, int))
    assert ev.evaluate(no_actions) == {}


@pytest.fixture
def demo_ws(tmp_path):
    return demo_workspace(tmp_path, users=300, items=200, sessions_per_user=6)


def test_sqn_run_on_the_demo_funnel_reports_purchase_and_click_metrics(demo_ws):
    config = {"name": "sqn", "dataset": "demo", "model": {"dim": 32, "max_len": 30},
              "views": [{"type": "sasrec", "blocks": 1}],
              "head": {"type": "sqn"},
              "evaluators": [{"type": "ranking", "ks": [10]}, {"type": "action_ranking", "ks": [10]}],
              "trainer": {"epochs": 2, "lr": 3e-3, "patience": 0, "seed": 1, "monitor": "purchase_NDCG@10"}}
    run_id, test = train_and_test(demo_ws, config)
    assert {"NDCG@10", "purchase_NDCG@10", "purchase_HR@10", "click_NDCG@10", "click_HR@10"} <= set(test)
    assert test["purchase_num_users"] > 0 and test["click_num_users"] > 0
    assert test["purchase_num_users"] + test["click_num_users"] <= test["num_users"]
    with open_workspace(demo_ws) as ws:
        row = ws.db.execute("SELECT status, test_groups FROM runs WHERE id = ?", [run_id]).fetchone()
        epochs = [json.loads(r[0]) for r in ws.db.execute(
            "SELECT metrics FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id])]
    assert row[0] == "completed"
    assert all("purchase_NDCG@10" in m for m in epochs)          # validation too: usable as trainer.monitor
    assert "purchase_NDCG@10" in json.loads(row[1])["groups"]["long"]


def test_sqn_head_is_listed_by_the_cli(run_workbench, wb_home):
    out = run_workbench("plugins", "list", "--json", check=True).stdout
    provides = {kind: set(names) for p in json.loads(out)["plugins"] for kind, names in p["provides"].items()}
    assert "sqn" in provides["head"] and "action_ranking" in provides["evaluator"]


def test_ranking_uses_the_supervised_head_unless_asked_for_q_values():
    emb = torch.randn(4, 1)
    head = _head()
    table = head.items(emb)                                     # the head's own table (untied in _head)
    assert head.score_table(emb) is table                       # fast blocked ranking over the item table
    states = torch.tensor([[2.0]])
    assert torch.allclose(head.score(states, emb, None), states @ table.T)
    head = _head(score_with="q")
    assert head.score_table(emb) is None                        # evaluation then calls score()
    assert head.score(states, emb, None)[0, 1:].tolist() == pytest.approx([2.0, 4.0, -2.0])


def test_ratings_reach_training_batches_as_target_values_also_from_the_column_cache(tmp_path):
    from workbench.data.dataset import load_dataset, make_split
    from workbench.data.importer import import_raw
    from workbench.engine.batches import training_tensors
    from workbench.kinds import RawDataset
    raw = RawDataset(users=["u"] * 5 + ["v"] * 4, items=["a", "b", "c", "d", "e", "b", "c", "a", "d"],
                     timestamps=[float(t) for t in range(9)], values=[5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.0, 4.0])
    with open_workspace(tmp_path / "ws.db", create=True) as ws:
        import_raw(ws, raw, name="r", fmt="test")
        for attempt in range(2):                             # from the column cache, then from the database
            if attempt:
                import shutil
                shutil.rmtree(ws.files_dir / "columns")
            ds = load_dataset(ws, "r")
            assert ds.values is not None and ds.values.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.0, 4.0]
            t = training_tensors(ds, make_split(ds, "loo"), max_len=4)
            # user u trains on a, b, c (d, e held out): inputs a, b -> targets b (4.0), c (3.0)
            row = int((t.users == 1).nonzero()[0, 0])
            assert t.targets[row].tolist() == [0, 0, 2, 3]
            assert t.target_values[row, 2:].tolist() == [4.0, 3.0]
