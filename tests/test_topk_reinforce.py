"""Off-policy REINFORCE with top-K correction: returns, lambda_K, the loss on a hand-checked case, weight
capping, the behaviour policy kept off the encoder, and a real run on the demo funnel data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from demo_run_helpers import config, demo_workspace, train_and_test
from workbench.model.base import DataContext, SeqBatch
from workbench.options import parse_options
from workbench_plugins.heads.topk_reinforce import TopKReinforceOptions
from workbench_plugins.heads.topk_reinforce_impl import TopKReinforceHead, discounted_returns, topk_correction


def test_discounted_returns_and_the_topk_correction_on_hand_checked_values():
    r = torch.tensor([[0.0, 1.0, 0.2, 0.5]])
    assert discounted_returns(r, 0.5)[0].tolist() == pytest.approx(
        [0.5 * 1.0 + 0.25 * 0.2 + 0.125 * 0.5, 1.0 + 0.5 * 0.2 + 0.25 * 0.5, 0.2 + 0.5 * 0.5, 0.5])
    assert discounted_returns(r, 0.0)[0].tolist() == pytest.approx(r[0].tolist())
    pi = torch.tensor([0.0, 0.5, 1.0])
    assert topk_correction(pi, 1).tolist() == [1.0, 1.0, 1.0]
    assert topk_correction(pi, 3).tolist() == pytest.approx([3.0, 0.75, 0.0])   # already certain: no push


def _head(**options) -> TopKReinforceHead:
    ctx = DataContext(num_items=3, num_users=1, max_len=3, actions=["click", "purchase"], tied_item_table=False)
    head = TopKReinforceHead(parse_options(TopKReinforceOptions, {"gamma": 0.5, "top_k": 2, **options}, "head"),
                             ctx, dim=1)
    with torch.no_grad():       # policy scores s * v_i, v = (1, 2, -1); behaviour s * u_i + b_i, u = (0, 1, 0)
        head.own_items.weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [-1.0]]))
        head.behaviour.weight.copy_(torch.tensor([[0.0], [0.0], [1.0], [0.0]]))
        head.behaviour_bias.zero_()
    return head


def _batch():
    # one row, L = 3: padding, item 1 (state 1.0), item 2 (state 2.0); targets 2 (a click), 3 (a purchase)
    fused = torch.tensor([[[0.0], [1.0], [2.0]]], requires_grad=True)
    return fused, SeqBatch(items=torch.tensor([[0, 1, 2]]), targets=torch.tensor([[0, 2, 3]]),
                           users=torch.tensor([1]), target_actions=torch.tensor([[0, 1, 2]]))


def _log_softmax(x, k):
    x = np.asarray(x, dtype=float)
    return x[k] - math.log(np.exp(x).sum())


def test_the_loss_on_a_hand_checked_sequence():
    fused, batch = _batch()
    head = _head(rewards={"click": 0.2, "purchase": 1.0})
    # position 1: s = 1, a = item 2 (class 1): pi logits (1, 2, -1), beta logits (0, 1, 0), reward 0.2
    # position 2: s = 2, a = item 3 (class 2): pi logits (2, 4, -2), beta logits (0, 2, 0), reward 1.0
    lp = [_log_softmax([1, 2, -1], 1), _log_softmax([2, 4, -2], 2)]
    lb = [_log_softmax([0, 1, 0], 1), _log_softmax([0, 2, 0], 2)]
    returns = [0.2 + 0.5 * 1.0, 1.0]                       # the purchase one step later counts, discounted
    w = [min(math.exp(p - b), 10.0) for p, b in zip(lp, lb)]
    lam = [2 * (1 - math.exp(p)) for p in lp]              # K = 2
    expected = -sum(w[i] * lam[i] * returns[i] * lp[i] for i in range(2)) / 2 - sum(lb) / 2
    assert float(head.loss(fused, batch, None).detach()) == pytest.approx(expected, rel=1e-5)
    x = head.terms(fused, batch, None)
    assert x["returns"].tolist() == pytest.approx(returns) and x["lambda"].tolist() == pytest.approx(lam, rel=1e-5)
    # capping: a tiny cap bounds every weight; on-policy: weights are 1
    assert _head(weight_cap=1.0).terms(fused, batch, None)["weight"].tolist() == pytest.approx(
        [min(w[0], 1.0), min(w[1], 1.0)], rel=1e-5)
    assert w[0] > 1.0                                      # so the cap did bind
    assert _head(off_policy=False).terms(fused, batch, None)["weight"].tolist() == [1.0, 1.0]


def _no_grad(p: torch.Tensor) -> bool:
    return p.grad is None or float(p.grad.abs().sum()) == 0.0


def test_the_behaviour_policy_learns_from_the_states_without_training_the_encoder():
    fused, batch = _batch()
    head = _head(rewards={"click": 0.0, "purchase": 0.0})   # no reward: only the behaviour CE is left
    head.loss(fused, batch, None).backward()
    assert torch.equal(fused.grad, torch.zeros_like(fused))
    assert float(head.behaviour.weight.grad.abs().sum()) > 0 and _no_grad(head.own_items.weight)
    fused, batch = _batch()
    head = _head(rewards={"click": 1.0, "purchase": 1.0}, behaviour_weight=0.0)
    head.loss(fused, batch, None).backward()                # the policy gradient does reach the encoder
    assert float(fused.grad.abs().sum()) > 0 and _no_grad(head.behaviour.weight)


def test_rewards_make_the_policy_favour_the_rewarded_item():
    """Two logged actions from the same state, one rewarded: a step of the policy gradient raises the
    rewarded item's probability and lowers the other's."""
    fused = torch.tensor([[[1.0], [1.0]]])
    batch = SeqBatch(items=torch.tensor([[1, 1]]), targets=torch.tensor([[2, 3]]), users=torch.tensor([1]),
                     target_actions=torch.tensor([[2, 1]]))
    head = _head(rewards={"click": 0.0, "purchase": 1.0}, gamma=0.0, behaviour_weight=0.0)
    with torch.no_grad():
        head.own_items.weight.zero_()
    opt = torch.optim.SGD(head.parameters(), lr=1.0)
    head.loss(fused, batch, None).backward()
    opt.step()
    p = torch.softmax(head.own_items.weight[1:, 0] * 1.0, 0)
    assert p[1] > 1 / 3 > p[2]                               # item 2 (purchased) up, item 3 (clicked) down


def test_a_real_run_on_the_demo_funnel_learns_and_reports_purchase_and_click_metrics(tmp_path):
    ws = demo_workspace(tmp_path)
    cfg = config(head={"type": "topk_reinforce"}, trainer={"epochs": 3, "batch_size": 32, "lr": 0.005, "patience": 0,
                                                           "device": "cpu", "threads": 1, "seed": 1},
                 evaluators=[{"type": "ranking", "ks": [10]},
                             {"type": "action_ranking", "actions": ["purchase", "click"], "ks": [10]}])
    _, test = train_and_test(ws, cfg)
    untrained = dict(cfg, trainer={**cfg["trainer"], "epochs": 0})
    _, before = train_and_test(ws, untrained)
    assert test["NDCG@10"] > 1.5 * before["NDCG@10"] and test["HR@10"] > before["HR@10"]
    assert "purchase_NDCG@10" in test and "click_NDCG@10" in test
