"""Evaluator plugins on hand-built rankings: every metric checked against hand arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.kinds import Rankings
from workbench.options import ConfigError, parse_options
from workbench.plugins import get_registry


def _evaluator(name, **values):
    spec = get_registry().get("evaluator", name)
    return spec.load()(parse_options(spec.options, values, f"evaluators.{name}"))


def _rankings(ranks=(0, 1, 4, 10), topk=None, pop=None, sampled=False):
    n = len(ranks)
    return Rankings(target_rank=np.array(ranks), topk=np.zeros((n, 1), dtype=np.int64) if topk is None
                    else np.array(topk), targets=np.ones(n, dtype=np.int64), num_candidates=np.full(n, 20),
                    item_popularity=np.zeros(21) if pop is None else np.array(pop, dtype=float),
                    history_length=np.arange(n), sampled=sampled)


def test_builtin_evaluators_are_registered():
    assert {"ranking", "coverage", "novelty"} <= set(get_registry().names("evaluator"))


def test_ranking_metrics_by_hand():
    ev = _evaluator("ranking", ks=[5, 1], metrics=["HR", "Recall", "NDCG", "MRR", "Precision"])
    m = ev.evaluate(_rankings((0, 1, 4, 10)))
    # K=5: ranks 0, 1, 4 hit, 10 misses
    assert m["HR@5"] == pytest.approx(3 / 4)
    assert m["Recall@5"] == pytest.approx(3 / 4)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 4)
    assert m["MRR@5"] == pytest.approx((1 + 1 / 2 + 1 / 5) / 4)
    assert m["Precision@5"] == pytest.approx(3 / 4 / 5)
    # K=1: only rank 0
    assert m["HR@1"] == pytest.approx(1 / 4)
    assert m["NDCG@1"] == pytest.approx(1 / 4)
    assert m["MRR@1"] == pytest.approx(1 / 4)
    assert m["Precision@1"] == pytest.approx(1 / 4)
    assert set(m) == {f"{n}@{k}" for n in ("HR", "Recall", "NDCG", "MRR", "Precision") for k in (1, 5)}


def test_default_ranking_metrics_and_ks():
    m = _evaluator("ranking").evaluate(_rankings())
    assert set(m) == {f"{n}@{k}" for n in ("HR", "NDCG", "MRR", "Precision") for k in (5, 10, 20)}
    assert m["HR@10"] == pytest.approx(3 / 4)      # rank 10 is outside the top 10
    assert m["HR@20"] == pytest.approx(1.0)


def test_sampled_rankings_are_labelled_sampled():
    r = _rankings(topk=[[1, 2]] * 4, pop=[0, 1, 2, 3], sampled=True)
    for name in ("ranking", "coverage", "novelty"):
        m = _evaluator(name, ks=[2]).evaluate(r)
        assert m and all(k.startswith("sampled_") for k in m), m
    assert _evaluator("ranking", ks=[2]).evaluate(r)["sampled_HR@2"] == pytest.approx(2 / 4)


def test_coverage_by_hand():
    r = _rankings(ranks=(0, 0, 0), topk=[[1, 2], [2, 3], [0, 0]], pop=[0, 5, 5, 5, 5, 5])  # N = 5
    m = _evaluator("coverage", ks=[1, 2]).evaluate(r)
    assert m == {"Coverage@1": pytest.approx(2 / 5), "Coverage@2": pytest.approx(3 / 5)}


def test_coverage_needs_long_enough_lists():
    r = _rankings(ranks=(0,), topk=[[1, 2]], pop=[0, 1, 1])
    with pytest.raises(ValueError, match="Coverage@5 needs top-5"):
        _evaluator("coverage", ks=[5]).evaluate(r)


def test_novelty_and_popularity_bias_by_hand():
    pop = [0, 3, 1, 0, 4]          # N = 4 items, C = 8 training events
    r = _rankings(ranks=(0, 0, 0), topk=[[1, 2], [4, 0], [0, 0]], pop=pop)
    m = _evaluator("novelty", ks=[2]).evaluate(r)
    info = {i: -math.log2((pop[i] + 1) / (8 + 4)) for i in (1, 2, 4)}
    # user 1: items 1, 2; user 2: item 4 only (0 = no item); user 3: empty list, left out
    assert m["Novelty@2"] == pytest.approx(((info[1] + info[2]) / 2 + info[4]) / 2)
    assert m["ARP@2"] == pytest.approx(((3 + 1) / 2 + 4) / 2)
    # catalogue counts sorted: 0 1 3 4 -> percentile (below + half of equal) / N
    pct = {1: (2 + 0.5) / 4, 2: (1 + 0.5) / 4, 4: (3 + 0.5) / 4}
    assert m["PopPercentile@2"] == pytest.approx(((pct[1] + pct[2]) / 2 + pct[4]) / 2)


def test_popularity_percentile_is_half_when_every_item_is_equally_popular():
    r = _rankings(ranks=(0,), topk=[[1, 2, 3]], pop=[0, 7, 7, 7, 7])
    m = _evaluator("novelty", ks=[3], metrics=["PopPercentile"]).evaluate(r)
    assert m == {"PopPercentile@3": pytest.approx(0.5)}


@pytest.mark.parametrize("name,values,message", [
    ("ranking", {"ks": [0]}, "ks"),
    ("ranking", {"ks": []}, "ks"),
    ("ranking", {"metrics": ["AUC"]}, "metrics"),
    ("ranking", {"ks": "10"}, "evaluators.ranking.ks"),
    ("coverage", {"ks": [3, -1]}, "ks"),
    ("novelty", {"metrics": ["Serendipity"]}, "metrics"),
    ("novelty", {"depth": 3}, "evaluators.novelty.depth"),
])
def test_bad_evaluator_options_are_rejected_naming_the_key(name, values, message):
    with pytest.raises(ConfigError, match=message):
        _evaluator(name, **values)


def test_no_users_gives_no_metrics():
    empty = Rankings(np.zeros(0, int), np.zeros((0, 5), int), np.zeros(0, int), np.zeros(0, int),
                     np.zeros(6), np.zeros(0, int))
    for name in ("ranking", "coverage", "novelty"):
        assert _evaluator(name).evaluate(empty) == {}
