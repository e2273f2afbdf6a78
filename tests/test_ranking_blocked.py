"""The blocked full-ranking kernel equals the one-matrix definition, whatever the block size."""

from __future__ import annotations

import threading

import pytest
import torch

from workbench.engine.ranking import RankBuffers, exclusion_mask, rank_full, rank_full_dot, rank_full_reference

INF = float("inf")


def _canonical_topk(scores, targets, rows, items, k, exclude_seen=True):
    """The top-K lists by definition: descending score, equal scores by ascending item id (a stable
    sort of the whole masked matrix), 0 for excluded entries."""
    excluded = exclusion_mask(*scores.shape, targets, rows, items, exclude_seen)
    masked = scores.masked_fill(excluded, -INF)
    top = torch.sort(masked, dim=1, descending=True, stable=True).indices[:, :k]
    return top.masked_fill(masked.gather(1, top) == -INF, 0)


def _case(seed: int, rows: int, items: int, dim: int = 8, seen_per_row: int = 15):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(rows, dim, generator=g)
    table = torch.randn(items + 1, dim, generator=g)
    targets = torch.randint(1, items + 1, (rows,), generator=g)
    seen_rows = torch.randint(0, rows, (rows * seen_per_row,), generator=g)
    seen_items = torch.randint(0, items + 1, (rows * seen_per_row,), generator=g)
    seen_items[:4] = targets[seen_rows[:4]]          # repeat consumption: target also in the history
    return states, table, targets, seen_rows, seen_items


def _same(a, b):
    assert torch.equal(a.num_candidates, b.num_candidates)
    assert torch.equal(a.target_rank, b.target_rank)
    assert torch.equal(a.topk, b.topk)


@pytest.mark.parametrize("block", [5, 64, 997, 1 << 19])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_blocked_ranking_equals_the_definition(block, exclude_seen):
    states, table, targets, rows, items = _case(1, rows=37, items=3001)
    scores = states @ table.T
    ref = rank_full_reference(scores, targets, rows, items, 10, exclude_seen)
    buffers = RankBuffers(block)
    _same(rank_full(scores, targets, rows, items, 10, exclude_seen, buffers), ref)
    _same(rank_full_dot(states, table, targets, rows, items, 10, exclude_seen, buffers), ref)
    # the buffers are reused by a second, smaller batch without leaking state
    small = rank_full_reference(scores[:5], targets[:5], rows[rows < 5], items[rows < 5], 10, exclude_seen)
    _same(rank_full(scores[:5], targets[:5], rows[rows < 5], items[rows < 5], 10, exclude_seen, buffers), small)


def test_blocked_ranking_keeps_pessimistic_ties_across_blocks():
    # every item ties: the target is ranked last whichever block it falls in
    scores = torch.ones(3, 50)
    targets = torch.tensor([1, 25, 49])
    r = rank_full(scores, targets, None, None, 5, True, RankBuffers(3 * 7))
    assert r.target_rank.tolist() == [48, 48, 48]
    # a dot-product model whose items share one vector ties them all too
    table = torch.ones(50, 4)
    table[0] = 0
    # and a dot-product model whose items share one vector ties them as its one-matrix product does
    table = torch.ones(300, 4)
    table[0] = 0
    states = torch.randn(40, 4, generator=torch.Generator().manual_seed(4))
    t = torch.randint(1, 300, (40,), generator=torch.Generator().manual_seed(0))
    ref = rank_full_reference(states @ table.T, t, None, None, 5)
    for block in (40 * 7, 40 * 64, 40 * 128):
        r = rank_full_dot(states, table, t, None, None, 5, True, RankBuffers(block))
        assert r.target_rank.tolist() == ref.target_rank.tolist()


def test_blocked_ranking_pads_with_zero_when_too_few_candidates():
    # items 1..4; 2 and 3 seen; item 4 scored -inf by the model but still a candidate
    scores = torch.tensor([[0, .5, .9, .8, -INF]])
    r = rank_full(scores, torch.tensor([1]), torch.tensor([0, 0]), torch.tensor([2, 3]), 4, True, RankBuffers(2))
    ref = rank_full_reference(scores, torch.tensor([1]), torch.tensor([0, 0]), torch.tensor([2, 3]), 4, True)
    assert r.num_candidates.tolist() == ref.num_candidates.tolist() == [2]
    assert r.target_rank.tolist() == [0]
    assert r.topk[0, 0].item() == 1 and set(r.topk[0, 1:].tolist()) <= {0, 4}   # never 2 or 3
    assert 2 not in ref.topk[0].tolist() and 3 not in ref.topk[0].tolist()


def test_blocked_ranking_rejects_nan_scores():
    scores = torch.tensor([[0, .5, float("nan"), .8]])
    with pytest.raises(ValueError, match="NaN"):
        rank_full(scores, torch.tensor([1]), None, None, 2)


def test_evaluate_with_a_score_table_matches_scoring_the_full_matrix():
    from workbench.engine.eval_types import EvalBatch
    from workbench.engine.evaluate import build_evaluators, evaluate
    from workbench.model.base import SeqBatch

    states, table, targets, rows, items = _case(2, rows=40, items=500, seen_per_row=5)
    batches = []
    for lo in range(0, 40, 16):
        sel = (rows >= lo) & (rows < lo + 16)
        seq = torch.zeros(min(16, 40 - lo), 3, dtype=torch.long)
        seq[:, -1] = torch.arange(lo, min(lo + 16, 40))            # the row index, for encode
        batches.append(EvalBatch(SeqBatch(items=seq, targets=torch.zeros_like(seq), users=torch.arange(seq.shape[0])), targets[lo:lo + 16],
                                 rows[sel] - lo, items[sel], torch.full((seq.shape[0],), 5), torch.arange(seq.shape[0])))

    def encode(batch):
        return states[batch.items[:, -1]]

    def score(s, batch):
        return s @ table.T

    common = dict(num_items=500, item_popularity=torch.ones(501), evaluators=build_evaluators())
    before = set(threading.enumerate())     # threads of earlier tests in this process may end meanwhile
    full = evaluate(encode, score, batches, **common)
    blocked = evaluate(encode, lambda s, b: pytest.fail("score() must not be called"), batches,
                       score_table=lambda: table, **common)
    assert blocked.metrics == full.metrics
    assert (blocked.rankings.topk == full.rankings.topk).all()
    assert set(threading.enumerate()) <= before     # the ranking worker threads ended with evaluate()


def test_only_a_plain_dot_product_head_offers_its_table():
    from workbench.model.base import DataContext
    from workbench.plugins import get_registry

    reg = get_registry()
    ctx = DataContext(num_items=20, num_users=5, max_len=4, item_popularity=torch.ones(21))
    table = torch.randn(21, 8)
    ce = reg.get("head", "softmax_ce")
    head = ce.load()(ce.options() if ce.options else None, ctx, 8)
    assert torch.equal(head.score_table(table), head.items(table))   # the table its score() multiplies by
    pop = reg.get("head", "popularity")
    assert pop.load()(pop.options() if pop.options else None, ctx, 8).score_table(table) is None


@pytest.mark.parametrize("block", [64 * 50, 997, 1 << 19])
def test_blocked_ranking_with_many_ties_equals_the_definition(block):
    # integer vectors: thousands of exact ties around every target and inside every top-K
    g = torch.Generator().manual_seed(3)
    states = torch.randint(-1, 2, (50, 8), generator=g).float()
    table = torch.randint(-2, 3, (6001, 8), generator=g).float()
    targets = torch.randint(1, 6001, (50,), generator=g)
    rows = torch.randint(0, 50, (50 * 40,), generator=g)
    items = torch.randint(0, 6001, (50 * 40,), generator=g)
    scores = states @ table.T
    ref = rank_full_reference(scores, targets, rows, items, 20)
    canonical = _canonical_topk(scores, targets, rows, items, 20)
    for workers in (1, 2, 3):
        buffers = RankBuffers(block, workers=workers)
        for r in (rank_full(scores, targets, rows, items, 20, True, buffers),
                  rank_full_dot(states, table, targets, rows, items, 20, True, buffers)):
            assert torch.equal(r.target_rank, ref.target_rank)
            assert torch.equal(r.num_candidates, ref.num_candidates)
            assert torch.equal(r.topk, canonical)      # equal scores: the lower item id first
        buffers.close()


def test_worker_threads_give_the_same_rankings_and_leave_the_thread_count_alone():
    states, table, targets, rows, items = _case(5, rows=64, items=20000, dim=16)
    threads = torch.get_num_threads()
    one = rank_full_dot(states, table, targets, rows, items, 10, True, RankBuffers(64 * 640, workers=1))
    assert torch.equal(one.topk, _canonical_topk(states @ table.T, targets, rows, items, 10))
    for workers in (2, 3):
        buffers = RankBuffers(64 * 640, workers=workers)
        _same(rank_full_dot(states, table, targets, rows, items, 10, True, buffers), one)
        _same(rank_full(states @ table.T, targets, rows, items, 10, True, buffers), one)
        buffers.close()
        assert torch.get_num_threads() == threads


def test_by_default_a_batch_is_shared_by_as_many_workers_as_the_caller_has_threads():
    """The default worker count is read in the caller's thread: read inside a worker (whose torch
    count is 1) it made every batch run on one thread (evaluate() used ~1 core of 2)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        buffers = RankBuffers()
        cpu = torch.device("cpu")
        inside = buffers.run(cpu, lambda: (torch.get_num_threads(), buffers.num_workers(cpu)))
        buffers.close()
    finally:
        torch.set_num_threads(threads)
    assert inside == (1, 2)        # a one-core worker that still shares the batch with a second one


def test_target_scores_that_disagree_with_their_blocks_are_caught():
    from workbench.engine.block_ranking import _rank_blocks

    states, table, targets, rows, items = _case(6, rows=30, items=4000, dim=16)
    ref = rank_full_reference(states @ table.T, targets, rows, items, 10)
    exact = (states @ table.T).gather(1, targets[:, None])[:, 0]
    off = exact.clone()
    off[7] = torch.nextafter(off[7], torch.tensor(INF))       # one ulp away from its block's score

    def fill(out, lo, hi):
        return torch.mm(states, table[lo:hi].T, out=out)

    for workers in (1, 2):
        buffers = RankBuffers(30 * 640, workers=workers)
        assert _rank_blocks(fill, 30, 4001, off, targets, rows, items, 10, True, buffers, "cpu", verify=True) is None
        _same(_rank_blocks(fill, 30, 4001, exact, targets, rows, items, 10, True, buffers, "cpu", verify=True), ref)
        # products whose rounding depends on their shape: target scores from products of the blocks' shape
        buffers.shape_dependent_products = True
        _same(rank_full_dot(states, table, targets, rows, items, 10, True, buffers), ref)
        buffers.close()


@pytest.mark.parametrize("onednn_faster", [True, False])
@pytest.mark.parametrize("dim", [64, 256])
def test_block_products_give_the_scores_of_torch_mm(dim, onednn_faster, monkeypatch):
    # oneDNN's product is used only for block shapes where it equals torch.mm's bit for bit (with
    # d 256 it sums in another order on AVX-512 CPUs) and is faster (timed: both outcomes are
    # forced here, as either can happen on a given CPU): the rankings are torch.mm's either way
    from workbench.engine import block_ranking
    monkeypatch.setattr(block_ranking, "_first_is_faster", lambda first, second: onednn_faster)
    states, table, targets, rows, items = _case(7, rows=40, items=3000, dim=dim)
    scores = states @ table.T
    buffers = RankBuffers(40 * 640, workers=2)
    for _ in range(2):        # the first batch compares the products, the second uses the choice
        r = rank_full_dot(states, table, targets, rows, items, 10, True, buffers)
        _same(r, rank_full_reference(scores, targets, rows, items, 10))
        assert torch.equal(r.topk, _canonical_topk(scores, targets, rows, items, 10))
    buffers.close()


def test_the_faster_product_is_told_apart():
    import time

    from workbench.engine.block_ranking import _first_is_faster
    assert _first_is_faster(lambda: None, lambda: time.sleep(0.02))
    assert not _first_is_faster(lambda: time.sleep(0.02), lambda: None)


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_workers_ranking_rows_of_their_own_give_the_definition(workers, ties, monkeypatch):
    """Batches with enough rows are split by rows among the workers (each scans every block for its
    rows); the rankings are those of the one-matrix definition, including the fallback to target
    scores from block-shaped products, tie-heavy vectors and rows with no seen items."""
    from workbench.engine import block_ranking
    monkeypatch.setattr(block_ranking, "ROW_SPLIT_MIN_ROWS", 8)
    assert block_ranking._row_parts(37, workers) == [(37 * i // workers, 37 * (i + 1) // workers)
                                                      for i in range(workers)]
    assert block_ranking._row_parts(15, workers) == [(0, 15)]       # too few rows: blocks are shared
    states, table, targets, rows, items = _case(9, rows=37, items=2500, dim=16)
    if ties:
        states, table = states.round(), table.clamp(-1, 1).round()
    keep = rows >= 20                                                # rows 0-19 have no seen items
    rows, items = rows[keep], items[keep]
    scores = states @ table.T
    ref = rank_full_reference(scores, targets, rows, items, 10)
    top = _canonical_topk(scores, targets, rows, items, 10)     # the reference's own order of ties is torch.topk's

    def check(r):
        assert torch.equal(r.num_candidates, ref.num_candidates) and torch.equal(r.target_rank, ref.target_rank)
        assert torch.equal(r.topk, top)

    for block in (997, 1 << 19):
        buffers = RankBuffers(block, workers=workers)
        check(rank_full(scores, targets, rows, items, 10, True, buffers))
        check(rank_full_dot(states, table, targets, rows, items, 10, True, buffers))
        buffers.shape_dependent_products = True
        check(rank_full_dot(states, table, targets, rows, items, 10, True, buffers))
        buffers.close()
