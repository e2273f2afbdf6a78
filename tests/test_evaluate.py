"""The evaluation driver end to end on hand-built batches: metrics, exclusion, groups, sampled labels."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from workbench.engine.eval_types import EvalBatch
from workbench.engine.evaluate import build_evaluators, evaluate, history_groups
from workbench.kinds import Evaluator
from workbench.model.base import SeqBatch

N = 6


def _batch(score_rows, targets, histories, users):
    """One EvalBatch whose 'user state' is the row of item scores itself (d = N+1)."""
    b = len(targets)
    length = max(len(h) for h in histories)
    items = torch.zeros(b, length, dtype=torch.long)
    for r, h in enumerate(histories):
        if h:
            items[r, length - len(h):] = torch.tensor(h)
    rows = torch.tensor([r for r, h in enumerate(histories) for _ in h], dtype=torch.long)
    seen = torch.tensor([i for h in histories for i in h], dtype=torch.long)
    batch = SeqBatch(items=items, targets=torch.zeros_like(items), users=torch.tensor(users),
                     timestamps=torch.tensor(score_rows, dtype=torch.float32))  # scores ride along here
    return EvalBatch(batch, torch.tensor(targets), rows, seen,
                     torch.tensor([len(h) for h in histories]), torch.tensor(users))


def encode(batch):
    return batch.timestamps          # (B, N+1): the hand-written scores


def score(states, batch):
    return states


POP = np.array([0, 50, 40, 30, 20, 10, 0], dtype=float)
BATCHES = [
    _batch([[0, .9, .8, .7, .6, .5, .4],
            [0, .9, .8, .7, .6, .5, .4]], targets=[3, 3], histories=[[1, 2], [5]], users=[1, 2]),
    _batch([[0, .1, .1, .1, .1, .1, .1],
            [0, .2, .9, .5, .3, .5, .1]], targets=[1, 5], histories=[[4], [2, 5, 6, 1]], users=[3, 4]),
]
# expected pessimistic ranks: user1 target 3 (items 1,2 seen) -> 0; user2 target 3 (5 seen) -> 2;
# user3 all tied, 4 seen -> 4 of 5 candidates; user4 target 5 also seen before (repeat) -> still ranked;
# 2, 6, 1 excluded, candidates 3, 4, 5 -> item 3 (.5) ties -> 1
RANKS = [0, 2, 4, 1]


def _eval(**kw):
    evaluators = kw.pop("evaluators", None) or build_evaluators({"ranking": {"ks": [1, 3]}, "coverage": {"ks": [2]}})
    return evaluate(encode, score, BATCHES, num_items=N, item_popularity=POP, evaluators=evaluators, **kw)


def test_full_ranking_metrics_over_several_batches():
    res = _eval()
    assert res.num_users == 4
    assert res.rankings.target_rank.tolist() == RANKS
    assert res.rankings.num_candidates.tolist() == [4, 5, 5, 3]
    assert res.users.tolist() == [1, 2, 3, 4]
    assert res.metrics["HR@1"] == pytest.approx(1 / 4)
    assert res.metrics["HR@3"] == pytest.approx(3 / 4)
    assert res.metrics["NDCG@3"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(3)) / 4)
    assert res.metrics["MRR@3"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 4)
    # top-2 lists: [3,4] [1,2] [?,?] (all tied) [3,5]/[5,3]; seen items never listed
    topk = res.rankings.topk
    assert topk.shape == (4, 2)
    assert topk[0].tolist() == [3, 4] and topk[1].tolist() == [1, 2]
    assert set(topk[3].tolist()) == {3, 5}
    assert 4 not in topk[2].tolist()
    assert res.rankings.sampled is False and not any(k.startswith("sampled") for k in res.metrics)
    assert res.forward_s >= 0 and res.ranking_s >= 0
    assert set(res.timings) == {"score_s", "rank_s", "metrics_s"}
    summary = json.loads(json.dumps(res.summary()))
    assert summary["metrics"] == res.metrics and summary["num_users"] == 4 and summary["mode"] == "full"


def test_seen_items_count_when_exclusion_is_off():
    res = _eval(exclude_seen=False)
    # user1: 1, 2 ahead; user2: 1, 2 ahead; user3: all 5 others tie; user4: 2 ahead, 3 ties
    assert res.rankings.target_rank.tolist() == [2, 2, 5, 2]
    assert res.rankings.num_candidates.tolist() == [6, 6, 6, 6]


def test_history_length_groups_assign_users():
    (b1, b2), masks = history_groups(np.array([1, 19, 20, 21, 100, 101, 500]), bounds=(20, 100))
    assert (b1, b2) == (20, 100)
    assert masks["short"].tolist() == [True, True, True, False, False, False, False]
    assert masks["medium"].tolist() == [False, False, False, True, True, False, False]
    assert masks["long"].tolist() == [False, False, False, False, False, True, True]
    # terciles: 9 users with lengths 1..9 -> three of each
    (b1, b2), masks = history_groups(np.arange(1, 10))
    assert (b1, b2) == (3, 6)
    assert [int(m.sum()) for m in masks.values()] == [3, 3, 3]
    with pytest.raises(ValueError, match="increasing"):
        history_groups(np.arange(5), bounds=(10, 2))


def test_group_metrics_are_the_metrics_of_the_group_users():
    # history lengths are 2, 1, 1, 4
    res = _eval(group_bounds=(1, 2))
    assert res.group_bounds == (1, 2)
    assert res.group_sizes == {"short": 2, "medium": 1, "long": 1}
    assert res.groups["short"]["HR@3"] == pytest.approx(1 / 2)      # users 2, 3: ranks 2 and 4
    assert res.groups["short"]["Coverage@2"] == pytest.approx(len({1, 2} | set(res.rankings.topk[2])) / N)
    assert res.groups["medium"]["HR@1"] == pytest.approx(1.0)      # user 1, rank 0
    assert res.groups["long"]["MRR@3"] == pytest.approx(1 / 2)     # user 4, rank 1
    res = _eval(group_bounds=(10, 20))
    assert set(res.groups) == {"short"} and res.group_sizes["long"] == 0


class UnlabelledEvaluator(Evaluator):
    """A third-party evaluator that forgets to label sampled metrics."""

    name = "hits"
    max_k = 1

    def evaluate(self, rankings):
        return {"Hit@1": float((np.asarray(rankings.target_rank) < 1).mean())}


def test_sampled_mode_labels_every_metric_and_ranks_among_negatives():
    evaluators = build_evaluators({"ranking": {"ks": [1, 3]}}) + [UnlabelledEvaluator()]
    res = _eval(mode="sampled", num_negatives=2, evaluators=evaluators, seed=7)
    assert res.mode == "sampled" and res.rankings.sampled
    assert res.metrics and all(k.startswith("sampled_") for k in res.metrics), res.metrics
    assert "sampled_Hit@1" in res.metrics
    assert all(all(k.startswith("sampled_") for k in g) for g in res.groups.values())
    # user 4 saw 2, 5, 6, 1 and the target is 5: only items 3, 4 can be negatives
    assert res.rankings.num_candidates.tolist() == [3, 3, 3, 3]
    assert res.rankings.target_rank[3] == 1          # item 3 (.5) ties with the target, item 4 (.3) below
    assert res.rankings.target_rank[0] == 0          # target 3 (.7) beats every unseen item
    again = _eval(mode="sampled", num_negatives=2, evaluators=evaluators, seed=7)
    assert again.metrics == res.metrics              # seeded: reproducible


def test_popularity_sampling_never_draws_zero_count_items():
    res = _eval(mode="sampled", num_negatives=100, negative_sampling="popularity",
                evaluators=build_evaluators({"coverage": {"ks": [6]}}))
    # item 6 has popularity 0: it is never a candidate, so it never appears in a list
    assert 6 not in res.rankings.topk
    # candidates = target + every unseen item with a positive count (user 1: 3 + {4, 5})
    assert res.rankings.num_candidates.tolist() == [3, 4, 4, 3]


def test_forward_time_is_reported_separately():
    def slow_encode(batch):
        time.sleep(0.02)
        return encode(batch)

    res = evaluate(slow_encode, score, BATCHES, num_items=N, item_popularity=torch.tensor(POP),
                   evaluators=build_evaluators({"ranking": {}}), device="cpu")
    assert res.forward_s >= 0.04
    assert res.ranking_s < res.forward_s + 10   # sanity: both measured, ranking not folded into forward


def test_bad_inputs_raise_clear_errors():
    evs = build_evaluators({"ranking": {}})
    with pytest.raises(ValueError, match="NaN"):
        evaluate(encode, lambda s, b: s * float("nan"), BATCHES, num_items=N, item_popularity=POP, evaluators=evs)
    with pytest.raises(ValueError, match="expected \\(2, 7\\)"):
        evaluate(encode, lambda s, b: s[:, :3], BATCHES, num_items=N, item_popularity=POP, evaluators=evs)
    with pytest.raises(ValueError, match="no evaluation cases"):
        evaluate(encode, score, [], num_items=N, item_popularity=POP, evaluators=evs)
    with pytest.raises(ValueError, match="mode"):
        evaluate(encode, score, BATCHES, num_items=N, item_popularity=POP, evaluators=evs, mode="partial")
    with pytest.raises(ValueError, match="item_popularity"):
        evaluate(encode, score, BATCHES, num_items=N, item_popularity=POP[:3], evaluators=evs)


def test_scores_are_float32_even_inside_autocast():
    # item i scores 1 + i/1000 for every user: distinct in float32, mostly tied in bfloat16
    table = 1.0 + torch.arange(N + 1, dtype=torch.float32)[:, None] / 1000

    def enc(batch):
        return torch.ones(batch.items.shape[0], 1) @ torch.ones(1, 1)     # bf16 under CPU autocast

    batches = [_batch([[0] * (N + 1)] * 2, targets=[6, 5], histories=[[1], [1]], users=[1, 2])]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert enc(batches[0].batch).dtype == torch.bfloat16
        res = evaluate(enc, lambda s, b: s @ table.T, batches, num_items=N, item_popularity=POP,
                       evaluators=build_evaluators({"ranking": {}}))
    assert res.rankings.target_rank.tolist() == [0, 1]       # 6 is best, 5 second: no bf16 ties


def test_build_evaluators_is_one_builder_for_parsed_experiments_mappings_and_defaults():
    from engine_helpers import tiny_config
    from workbench.engine.config import parse_config
    from workbench.options import ConfigError

    cfg = parse_config({**tiny_config(), "evaluators": [{"type": "ranking", "ks": [1, 3]}, {"type": "coverage"}]})
    from_experiment = build_evaluators(cfg.evaluators)               # what a training run uses
    from_mapping = build_evaluators({"ranking": {"ks": [1, 3]}, "coverage": {}})
    assert [type(e) for e in from_experiment] == [type(e) for e in from_mapping]
    assert [e.options for e in from_experiment] == [e.options for e in from_mapping]
    rankings = evaluate(encode, score, BATCHES, num_items=N, item_popularity=POP,
                        evaluators=from_experiment).rankings
    from workbench.engine.evaluate import compute_metrics
    assert compute_metrics(from_experiment, rankings) == compute_metrics(from_mapping, rankings)
    defaults = build_evaluators()
    assert [type(e).__name__ for e in defaults] == [type(e).__name__ for e in build_evaluators(
        parse_config({k: v for k, v in tiny_config().items() if k != "evaluators"}).evaluators)]
    with pytest.raises(ConfigError, match=r"evaluators\.ranking\.ks"):
        build_evaluators({"ranking": {"ks": "ten"}})
