"""Pure tensor ranking operations for evaluation (no model, no metrics).

Shapes: B users in a batch, N items (ids 1..N; column 0 of every score matrix is
padding and is never ranked), S (row, item) pairs of seen history, n sampled
negatives, K recommended items.

Conventions (shared with :class:`workbench.kinds.Rankings`):

- **Exclusion**: column 0 is always excluded; with ``exclude_seen`` every
  (seen_row, seen_item) pair is excluded too, *except* the row's target, which
  is always ranked even if the user saw it earlier (repeat consumption).
- **Pessimistic ties**: the 0-based rank of the target is the number of
  non-excluded candidates other than the target whose score is >= the target's
  score. A model that gives every item the same score therefore ranks the
  target last, never first.
- **Top-K**: item ids in descending score order; where fewer than K candidates
  exist the list is padded with 0 (no item). Excluded items never appear; candidates
  the model itself scores -inf may be left out (0 instead).
"""

from __future__ import annotations

import torch

# the blocked kernels (item blocks, running counts and top-K lists, CPU worker threads)
from workbench.engine.block_ranking import RankBuffers, rank_full, rank_full_dot
from workbench.engine.eval_types import NEG_INF, BatchRanking


def exclusion_mask(num_rows: int, num_cols: int, targets: torch.Tensor, seen_rows: torch.Tensor | None,
                   seen_items: torch.Tensor | None, exclude_seen: bool = True) -> torch.Tensor:
    """(B, N+1) bool, True where an item must not be ranked.

    Column 0 always; (seen_rows, seen_items) when ``exclude_seen``; the target
    of each row never (restored after the scatter).
    """
    excluded = torch.zeros(num_rows, num_cols, dtype=torch.bool, device=targets.device)
    excluded[:, 0] = True
    if exclude_seen and seen_rows is not None and seen_rows.numel():
        excluded[seen_rows, seen_items] = True
    excluded[torch.arange(num_rows, device=targets.device), targets] = False
    return excluded


def count_true(mask: torch.Tensor) -> torch.Tensor:
    """(B,) long: True entries per row of a (B, C) bool tensor.

    Summing the bytes with a narrow accumulator is several times faster on CPU than
    ``mask.sum(1)``, which widens every element to int64 first.
    """
    acc = torch.int16 if mask.shape[1] < 2 ** 15 else torch.int32
    return mask.view(torch.uint8).sum(dim=1, dtype=acc).long()


def mask_scores(scores: torch.Tensor, excluded: torch.Tensor) -> torch.Tensor:
    """(B, N+1) copy of ``scores`` with -inf at every excluded position."""
    return scores.masked_fill(excluded, NEG_INF)


def target_ranks(masked: torch.Tensor, targets: torch.Tensor, num_candidates: torch.Tensor) -> torch.Tensor:
    """(B,) long 0-based pessimistic rank of each target among the non-excluded candidates.

    ``masked`` (B, N+1) has -inf at excluded positions; ``num_candidates`` (B,)
    counts the non-excluded items (target included). A target scored -inf by the
    model itself ties with everything, so it is ranked last (num_candidates - 1).
    """
    target_scores = masked.gather(1, targets[:, None])            # (B, 1)
    at_least = count_true(masked >= target_scores) - 1             # other candidates >= target
    last = num_candidates - 1
    return torch.where(target_scores[:, 0] == NEG_INF, last, at_least)


def top_items(masked: torch.Tensor, excluded: torch.Tensor, k: int) -> torch.Tensor:
    """(B, k) long: the k best non-excluded item ids, 0 where fewer than k candidates exist."""
    k_eff = min(k, masked.shape[1])
    idx = masked.topk(k_eff, dim=1).indices                         # (B, k_eff)
    idx = idx.masked_fill(excluded.gather(1, idx), 0)
    if k_eff < k:
        idx = torch.cat([idx, idx.new_zeros(idx.shape[0], k - k_eff)], dim=1)
    return idx


def rank_full_reference(scores: torch.Tensor, targets: torch.Tensor, seen_rows: torch.Tensor | None,
                        seen_items: torch.Tensor | None, k: int, exclude_seen: bool = True) -> BatchRanking:
    """Unblocked full ranking (B, N+1) at once: the definition the blocked kernel is tested against."""
    num_rows, num_cols = scores.shape
    excluded = exclusion_mask(num_rows, num_cols, targets, seen_rows, seen_items, exclude_seen)
    num_candidates = num_cols - count_true(excluded)
    masked = mask_scores(scores, excluded)
    return BatchRanking(target_ranks(masked, targets, num_candidates), top_items(masked, excluded, k),
                        num_candidates)


def sample_negatives(forbidden: torch.Tensor, num_negatives: int, weights: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``num_negatives`` distinct items per row, without replacement.

    ``forbidden`` (B, N+1) bool marks items that may not be drawn (padding, the
    target, the user's seen items). ``weights`` (N+1,) >= 0 gives sampling
    weights (popularity sampling; items with weight 0 are never drawn); None is
    uniform. Weighted draws use Efraimidis-Spirakis keys u^(1/w) (compared as
    log(u) / w), which is exactly sequential sampling without replacement
    proportional to the weights.

    Returns ``(items (B, n) long, valid (B, n) bool)``; ``valid`` is False where
    a row had fewer than n drawable items.
    """
    num_rows, num_cols = forbidden.shape
    keys = torch.rand(num_rows, num_cols, device=forbidden.device, generator=generator)
    if weights is not None:   # u = 0 would read as "not drawable": keep it strictly positive
        keys = keys.clamp_min_(1e-30).log_().mul_(weights.to(keys.dtype).reciprocal()[None, :])
    keys = keys.masked_fill_(forbidden, NEG_INF)
    n = min(num_negatives, num_cols)
    top = keys.topk(n, dim=1)
    return top.indices, top.values > NEG_INF


def rank_sampled(scores: torch.Tensor, targets: torch.Tensor, seen_rows: torch.Tensor | None,
                 seen_items: torch.Tensor | None, k: int, num_negatives: int = 100,
                 weights: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> BatchRanking:
    """Rank each target among itself plus ``num_negatives`` sampled unseen items.

    Negatives are never the target, padding, or an item in the user's history
    (whatever ``exclude_seen`` says for full ranking). Ties are pessimistic.
    ``topk`` lists the best k of the 1 + n candidates (0-padded).
    """
    num_rows, num_cols = scores.shape
    forbidden = exclusion_mask(num_rows, num_cols, targets, seen_rows, seen_items, exclude_seen=True)
    forbidden[torch.arange(num_rows, device=targets.device), targets] = True
    negatives, valid = sample_negatives(forbidden, num_negatives, weights, generator)  # (B, n)
    target_scores = scores.gather(1, targets[:, None])                                     # (B, 1)
    neg_scores = scores.gather(1, negatives).masked_fill(~valid, NEG_INF)                  # (B, n)
    ahead = ((neg_scores >= target_scores) & valid).sum(dim=1)
    num_candidates = 1 + valid.sum(dim=1)
    rank = torch.where(target_scores[:, 0] == NEG_INF, num_candidates - 1, ahead)
    cand_items = torch.cat([targets[:, None], negatives], dim=1)                           # (B, 1+n)
    cand_scores = torch.cat([target_scores, neg_scores], dim=1)
    cand_valid = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
    k_eff = min(k, cand_items.shape[1])
    order = cand_scores.topk(k_eff, dim=1).indices
    top = cand_items.gather(1, order).masked_fill(~cand_valid.gather(1, order), 0)
    if k_eff < k:
        top = torch.cat([top, top.new_zeros(num_rows, k - k_eff)], dim=1)
    return BatchRanking(rank, top, num_candidates)


__all__ = ["BatchRanking", "NEG_INF", "RankBuffers", "count_true", "exclusion_mask", "mask_scores", "rank_full",
           "rank_full_dot", "rank_full_reference", "rank_sampled", "sample_negatives", "target_ranks", "top_items"]
