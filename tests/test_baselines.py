"""Baseline heads: popularity and item-KNN on hand-built data, and popularity on a real ml-100k split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.model.base import DataContext, SeqBatch
from workbench.options import ConfigError, parse_options
from workbench.plugins import get_registry


def _head(name, ctx, **values):
    spec = get_registry().get("head", name)
    return spec.load()(parse_options(spec.options, values, f"head.{name}"), ctx, 8)


def _ctx(sequences, num_items, popularity=None):
    return DataContext(num_items=num_items, num_users=len(sequences), max_len=4,
                       train_sequences=[[]] + sequences, item_popularity=popularity)


def _histories(rows):
    length = max(len(r) for r in rows)
    items = torch.zeros(len(rows), length, dtype=torch.long)
    for k, r in enumerate(rows):
        if r:
            items[k, length - len(r):] = torch.tensor(r)
    return SeqBatch(items=items, targets=torch.zeros_like(items), users=torch.arange(1, len(rows) + 1))


def test_popularity_head_ranks_items_by_training_count():
    seqs = [[3, 1, 3], [3, 2], [1, 3, 4]]          # counts: 1 -> 2, 2 -> 1, 3 -> 4, 4 -> 1, 5 -> 0
    head = _head("popularity", _ctx(seqs, 5))
    assert head.trainable is False
    batch = _histories([[1], [2, 4]])
    scores = head.score(torch.zeros(2, 8), None, batch)
    assert scores.shape == (2, 6)
    assert scores[0].tolist() == [0, 2, 1, 4, 1, 0]
    assert torch.equal(scores[0], scores[1])
    order = torch.argsort(scores[0, 1:], descending=True, stable=True) + 1
    assert order.tolist() == [3, 1, 2, 4, 5]
    # the scores are a fresh tensor: changing them does not change the head
    scores[0, 3] = -1
    assert head.score(torch.zeros(1, 8), None, _histories([[1]]))[0, 3] == 4
    # when the data context already has the training counts, the head uses them
    given = torch.tensor([0.0, 9.0, 1.0, 0.0, 5.0, 2.0])
    head = _head("popularity", _ctx(seqs, 5, popularity=given))
    assert head.score(torch.zeros(1, 8), None, batch)[0].tolist() == given.tolist()


SEQS = [[1, 2, 3], [1, 2], [2, 3], [4], [4, 5], [5, 1]]   # item 6 never occurs


def _cosine(i, j):
    """Cosine of the binary user vectors of items i and j, computed from SEQS directly."""
    users = [set(k for k, s in enumerate(SEQS) if x in s) for x in (i, j)]
    if not users[0] or not users[1]:
        return 0.0
    return len(users[0] & users[1]) / math.sqrt(len(users[0]) * len(users[1]))


def test_item_knn_neighbour_ordering_matches_cosine_by_hand():
    head = _head("item_knn", _ctx(SEQS, 6))
    assert head.trainable is False
    # history [1]: neighbours of item 1 are 2 (2 shared users), 3 and 5 (1 each), 4 and 6 (none)
    scores = head.score(torch.zeros(1, 8), None, _histories([[1]]))[0]
    for j in range(2, 7):
        assert scores[j].item() == pytest.approx(_cosine(1, j), abs=1e-6)
    assert scores[2] > scores[3] > 0 and scores[4] == 0 and scores[6] == 0
    assert scores[0] == 0 and scores[1] == 0          # padding, and no self-similarity
    # summed over the history: [4, 2] = sim(4, j) + sim(2, j)
    scores = head.score(torch.zeros(1, 8), None, _histories([[4, 2]]))[0]
    for j in (1, 3, 5):
        assert scores[j].item() == pytest.approx(_cosine(4, j) + _cosine(2, j), abs=1e-6)


def test_item_knn_recent_uses_only_the_last_events():
    head = _head("item_knn", _ctx(SEQS, 6), recent=1)
    scores = head.score(torch.zeros(1, 8), None, _histories([[4, 2]]))[0]
    for j in (1, 3, 5):
        assert scores[j].item() == pytest.approx(_cosine(2, j), abs=1e-6)    # item 4 is too old


def test_item_knn_keeps_only_the_top_neighbours():
    head = _head("item_knn", _ctx(SEQS, 6), neighbours=1)
    scores = head.score(torch.zeros(1, 8), None, _histories([[1]]))[0]
    assert scores.nonzero().flatten().tolist() == [2]     # only item 1's best neighbour survives


def test_item_knn_asymmetric_cosine_and_shrinkage():
    # item 1 has 3 users, item 5 has 2, they share 1: sim(1 -> 5) = 1 / (3^alpha * 2^(1-alpha) + shrinkage)
    def sim_1_to_5(**values):
        head = _head("item_knn", _ctx(SEQS, 6), similarity="asymmetric", **values)
        return head.score(torch.zeros(1, 8), None, _histories([[1]]))[0, 5].item()

    assert sim_1_to_5(alpha=1.0) == pytest.approx(1 / 3)          # co / n_i: P(5 | 1)
    assert sim_1_to_5(alpha=0.0) == pytest.approx(1 / 2)          # co / n_j
    assert sim_1_to_5(alpha=0.0, shrinkage=2.0) == pytest.approx(1 / 4)
    assert sim_1_to_5(alpha=0.5) == pytest.approx(_cosine(1, 5))
    with pytest.raises(ConfigError, match="head.item_knn.alpha"):
        _head("item_knn", _ctx(SEQS, 6), alpha=1.5)
    with pytest.raises(ConfigError, match="head.item_knn.neighbours"):
        _head("item_knn", _ctx(SEQS, 6), neighbours=0)


# ---------------------------------------------------------------- real data
def _ml100k_loo(tmp_path, shared_datasets):
    from workbench.data.dataset import leave_one_out, load_dataset
    from workbench.data.importer import import_path
    from workbench.store.workspace import open_workspace

    with open_workspace(tmp_path / "ws.db", create=True) as ws:
        import_path(ws, shared_datasets / "ml-100k", name="ml100k")
        ds = load_dataset(ws, "ml100k")
    return ds, leave_one_out(ds)


def _test_batches(ds, split, batch_size=300, max_len=50):
    """EvalBatches for the LOO test targets: history = every event before the target."""
    from workbench.engine.eval_types import EvalBatch

    out = []
    for start in range(0, len(split.test_users), batch_size):
        users = split.test_users[start:start + batch_size]
        pos = split.test_pos[start:start + batch_size]
        hists = [ds.items[ds.offsets[u]:p] for u, p in zip(users, pos)]
        items = torch.zeros(len(users), max_len, dtype=torch.long)
        for r, h in enumerate(hists):
            tail = h[-max_len:]
            items[r, max_len - len(tail):] = torch.from_numpy(tail)
        rows = torch.from_numpy(np.repeat(np.arange(len(users)), [len(h) for h in hists]))
        seen = torch.from_numpy(np.concatenate(hists))
        batch = SeqBatch(items=items, targets=torch.zeros_like(items), users=torch.from_numpy(users))
        out.append(EvalBatch(batch, torch.from_numpy(ds.items[pos]), rows, seen,
                             torch.tensor([len(h) for h in hists]), torch.from_numpy(users)))
    return out


def test_popularity_ndcg_on_ml100k_matches_an_independent_loop(tmp_path, shared_datasets):
    from workbench.engine.evaluate import build_evaluators, evaluate

    ds, split = _ml100k_loo(tmp_path, shared_datasets)
    n = ds.n_items
    train = [[]] + [ds.items[ds.offsets[u]:split.train_end[u]].tolist() for u in range(1, ds.n_users + 1)]
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in train]), minlength=n + 1)
    ctx = DataContext(num_items=n, num_users=ds.n_users, max_len=50, train_sequences=train,
                      item_popularity=torch.tensor(counts, dtype=torch.float32))
    head = _head("popularity", ctx)
    res = evaluate(lambda b: torch.zeros(b.items.shape[0], 8), lambda s, b: head.score(s, None, b),
                   _test_batches(ds, split), num_items=n, item_popularity=ctx.item_popularity,
                   evaluators=build_evaluators({"ranking": {"ks": [10]}}))

    # reference: a plain loop over users, all items but the user's earlier ones, pessimistic ties
    ndcg, hits = [], []
    for u, p in zip(split.test_users, split.test_pos):
        target = ds.items[p]
        seen = set(ds.items[ds.offsets[u]:p].tolist()) - {target}
        rank = sum(1 for j in range(1, n + 1)
                   if j != target and j not in seen and counts[j] >= counts[target])
        ndcg.append(1 / math.log2(rank + 2) if rank < 10 else 0.0)
        hits.append(rank < 10)
    assert res.num_users == len(split.test_users) == 943
    assert res.metrics["NDCG@10"] == pytest.approx(float(np.mean(ndcg)), abs=1e-12)
    assert res.metrics["HR@10"] == pytest.approx(float(np.mean(hits)), abs=1e-12)
    # a popularity floor on ml-100k: clearly better than random (10 / 1682 = 0.006) yet far from perfect
    assert 0.01 < res.metrics["NDCG@10"] < 0.15
    assert sum(res.group_sizes.values()) == 943 and set(res.groups) == {"short", "medium", "long"}
