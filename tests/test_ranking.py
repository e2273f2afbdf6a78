"""Ranking tensor ops on hand-checked tiny examples: pessimistic ties, exclusion, top-K, sampling."""

from __future__ import annotations

import torch

from workbench.engine.ranking import rank_full, rank_sampled, sample_negatives

INF = float("inf")


def _full(scores, targets, seen=(), k=3, exclude_seen=True):
    scores = torch.tensor(scores, dtype=torch.float32)
    rows = torch.tensor([r for r, _ in seen], dtype=torch.long)
    items = torch.tensor([i for _, i in seen], dtype=torch.long)
    return rank_full(scores, torch.tensor(targets), rows, items, k, exclude_seen)


def test_rank_counts_ties_pessimistically():
    # items 1..5 scored .1 .9 .5 .5 .2; target 3 (.5) ties with item 4 -> items 2 and 4 are ahead
    r = _full([[0, .1, .9, .5, .5, .2]], [3])
    assert r.target_rank.tolist() == [2]
    assert r.num_candidates.tolist() == [5]
    # a model that scores everything equal ranks the target last, never first
    r = _full([[1.0] * 6], [2])
    assert r.target_rank.tolist() == [4]


def test_padding_column_is_never_ranked():
    r = _full([[100.0, .1, .9, .5]], [2], k=4)
    assert r.target_rank.tolist() == [0]
    assert r.num_candidates.tolist() == [3]
    assert r.topk.tolist() == [[2, 3, 1, 0]]     # only 3 candidates; 0 pads, column 0 never listed


def test_excluded_item_above_target_does_not_count():
    # item 2 (.9) was seen: excluded, so the target 3 is ahead of everything but its tie (item 4)
    r = _full([[0, .1, .9, .5, .4, .2]], [3], seen=[(0, 2), (0, 5)])
    assert r.target_rank.tolist() == [0]
    assert r.num_candidates.tolist() == [3]          # items 1, 3, 4
    assert 2 not in r.topk[0].tolist() and 5 not in r.topk[0].tolist()
    assert r.topk.tolist() == [[3, 4, 1]]
    # with exclusion off the seen item counts again
    r = _full([[0, .1, .9, .5, .4, .2]], [3], seen=[(0, 2), (0, 5)], exclude_seen=False)
    assert r.target_rank.tolist() == [1]
    assert r.num_candidates.tolist() == [5]


def test_target_seen_before_is_still_ranked():
    # repeat consumption: the target 3 is also in the history; it must stay a candidate
    r = _full([[0, .1, .9, .5, .4, .2]], [3], seen=[(0, 3), (0, 2), (0, 3)])
    assert r.target_rank.tolist() == [0]
    assert r.num_candidates.tolist() == [4]          # items 1, 3, 4, 5
    assert r.topk[0, 0].item() == 3


def test_rows_are_independent_and_exclusions_stay_in_their_row():
    scores = [[0, .9, .8, .7, .6],
              [0, .9, .8, .7, .6]]
    r = _full(scores, [3, 3], seen=[(0, 1), (0, 2)])
    assert r.target_rank.tolist() == [0, 2]
    assert r.num_candidates.tolist() == [2, 4]
    assert r.topk.tolist() == [[3, 4, 0], [1, 2, 3]]


def test_target_scored_minus_infinity_ranks_last():
    r = _full([[0, .1, -INF, .5, -INF]], [2], seen=[(0, 3)])
    assert r.num_candidates.tolist() == [3]
    assert r.target_rank.tolist() == [2]


def test_sampled_rank_counts_only_sampled_unseen_negatives():
    # score = item id, so the number of sampled negatives with a larger id is the rank
    n_items = 30
    scores = torch.arange(n_items + 1, dtype=torch.float32).repeat(2, 1)
    targets = torch.tensor([10, 25])
    seen_rows = torch.tensor([0, 0, 0, 1])
    seen_items = torch.tensor([30, 29, 10, 1])        # row 0 also saw its own target before
    g = torch.Generator().manual_seed(3)
    r = rank_sampled(scores, targets, seen_rows, seen_items, k=4, num_negatives=8, generator=g)
    assert r.num_candidates.tolist() == [9, 9]
    # recompute the expected rank from the same draw
    g = torch.Generator().manual_seed(3)
    forbidden = torch.zeros(2, n_items + 1, dtype=torch.bool)
    forbidden[:, 0] = True
    forbidden[seen_rows, seen_items] = True
    forbidden[[0, 1], targets] = True
    neg, valid = sample_negatives(forbidden, 8, None, g)
    assert valid.all()
    for row in range(2):
        drawn = set(neg[row].tolist())
        assert len(drawn) == 8
        assert targets[row].item() not in drawn and 0 not in drawn
        assert not drawn & set(seen_items[seen_rows == row].tolist())
        assert r.target_rank[row].item() == sum(1 for i in drawn if i > targets[row].item())
        best = sorted(drawn | {targets[row].item()}, reverse=True)[:4]
        assert r.topk[row].tolist() == best


def test_sampled_with_too_few_unseen_items_uses_what_exists():
    scores = torch.tensor([[0, .5, .4, .3, .2]])
    r = rank_sampled(scores, torch.tensor([4]), torch.tensor([0]), torch.tensor([1]), k=5, num_negatives=100,
                     generator=torch.Generator().manual_seed(0))
    assert r.num_candidates.tolist() == [3]        # target 4 + items 2, 3 (item 1 seen)
    assert r.target_rank.tolist() == [2]
    assert r.topk.tolist() == [[2, 3, 4, 0, 0]]


def test_popularity_sampling_follows_counts_and_skips_unseen_items():
    counts = torch.tensor([0.0, 1.0, 0.0, 8.0, 1.0, 30.0, 0.0, 2.0, 1.0, 1.0, 1.0])
    forbidden = torch.zeros(4000, 11, dtype=torch.bool)
    forbidden[:, 0] = True
    neg, valid = sample_negatives(forbidden, 1, counts, torch.Generator().manual_seed(0))
    drawn = torch.bincount(neg[valid], minlength=11).float()
    assert drawn[[0, 2, 6]].sum() == 0                      # zero-count items are never drawn
    share = drawn / drawn.sum()
    expected = counts / counts.sum()
    assert torch.allclose(share, expected, atol=0.03)       # 4000 draws: well within 3 points
    # uniform sampling spreads over every allowed item
    neg, valid = sample_negatives(forbidden, 1, None, torch.Generator().manual_seed(0))
    drawn = torch.bincount(neg[valid], minlength=11).float()
    assert drawn[0] == 0 and (drawn[1:] > 300).all()


def test_count_true_matches_sum_for_narrow_and_wide_rows():
    from workbench.engine.ranking import count_true

    g = torch.Generator().manual_seed(1)
    for cols in (7, 40_000):          # int16 and int32 accumulators
        mask = torch.rand(3, cols, generator=g) < 0.9
        mask[2] = True
        assert count_true(mask).tolist() == mask.sum(dim=1).tolist()
