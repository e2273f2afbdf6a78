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

from dataclasses import dataclass

import torch

NEG_INF = float("-inf")


@dataclass
class BatchRanking:
    """Ranking result for one batch (tensors on the scoring device).

    ``target_rank`` (B,) long, ``topk`` (B, K) long (0 = no item),
    ``num_candidates`` (B,) long.
    """

    target_rank: torch.Tensor
    topk: torch.Tensor
    num_candidates: torch.Tensor


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


DEFAULT_BLOCK_ELEMENTS = 1 << 19     # scores per block (B x width): 2 MiB of float32, cache-sized


class RankBuffers:
    """Scratch tensors reused across blocks and batches (no per-batch reallocation).

    Holds one (B, width) float score block and a (B, width) float block for the rank
    comparison; grows when a larger batch or another device/dtype comes along, never shrinks.
    """

    def __init__(self, block_elements: int = DEFAULT_BLOCK_ELEMENTS):
        self.block_elements = int(block_elements)
        self.scores: torch.Tensor | None = None
        self.ge: torch.Tensor | None = None
        self.checked_table: tuple | None = None

    def width(self, num_rows: int, num_cols: int) -> int:
        """Block width: a multiple of 64 columns (whole SIMD tiles of the matrix product, so equal
        item vectors get equal scores inside a block), at most the catalogue."""
        fit = min(self.block_elements // max(1, num_rows), 1 << 23)   # counts stay exact in float32
        return min(num_cols, max(64, fit - fit % 64))

    def get(self, num_rows: int, width: int, device, dtype=torch.float32):
        """-> ``block(w)``: contiguous (num_rows, w) score and comparison views for any w <= width.

        The comparison block is float (1.0 / 0.0): a comparison written as float and summed is
        several times faster on CPU than one written as bool and counted, and exact (a block
        holds far fewer than 2**24 columns).
        """
        need = num_rows * width
        s = self.scores
        if s is None or s.device != torch.device(device) or s.dtype != dtype or s.numel() < need:
            self.scores = torch.empty(need, device=device, dtype=dtype)
            self.ge = torch.empty(need, device=device, dtype=dtype)
        scores, ge = self.scores, self.ge

        def block(w: int) -> tuple[torch.Tensor, torch.Tensor]:
            return scores[:num_rows * w].view(num_rows, w), ge[:num_rows * w].view(num_rows, w)

        return block


def _excluded_pairs(num_rows: int, num_cols: int, targets: torch.Tensor, seen_rows: torch.Tensor | None,
                    seen_items: torch.Tensor | None, exclude_seen: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct excluded (row, item) pairs, sorted by item: the seen pairs minus each row's target
    and minus column 0 (which every row excludes anyway)."""
    if not exclude_seen or seen_rows is None or seen_rows.numel() == 0:
        empty = targets.new_zeros(0)
        return empty, empty
    keep = (seen_items != targets[seen_rows]) & (seen_items > 0)
    codes = torch.unique(seen_items[keep] * num_rows + seen_rows[keep])   # sorted by item, then row
    return codes % num_rows, codes // num_rows


def _rank_blocks(fill_block, num_rows: int, num_cols: int, target_scores: torch.Tensor, targets: torch.Tensor,
                 seen_rows: torch.Tensor | None, seen_items: torch.Tensor | None, k: int, exclude_seen: bool,
                 buffers: RankBuffers | None, device) -> BatchRanking:
    """Rank in item blocks: ``fill_block(out (B, w), lo, hi)`` writes the scores of items [lo, hi).

    Keeps a running top-K and a running count of candidates scored >= the target; memory is
    O(B x block + B x K) whatever N is.
    """
    buffers = buffers if buffers is not None else RankBuffers()
    rows_ex, items_ex = _excluded_pairs(num_rows, num_cols, targets, seen_rows, seen_items, exclude_seen)
    num_candidates = (num_cols - 1) - torch.bincount(rows_ex, minlength=num_rows)[:num_rows]
    width = buffers.width(num_rows, num_cols)
    views = buffers.get(num_rows, width, device)
    k_eff = min(k, num_cols)
    ahead = torch.zeros(num_rows, dtype=torch.long, device=device)
    top_vals = torch.empty(num_rows, k_eff, device=device)
    top_ids = torch.zeros(num_rows, k_eff, dtype=torch.long, device=device)
    t = target_scores[:, None]
    # Candidates that beat the K-th best are merged into the top-K lists once enough have gathered,
    # not after every block: a stale (lower) threshold only lets through items that the merge
    # drops again, so the lists are the same (ties: earlier first) and most blocks skip the merge.
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    pending_count, merge_at = 0, num_rows * k_eff
    # where each block's targets and excluded pairs start: one host transfer per batch, not per block
    starts = torch.arange(0, num_cols + width, width, device=device)
    order = torch.argsort(targets)
    t_bounds = torch.searchsorted(targets[order], starts).tolist()
    t_rows, t_items = order, targets[order]
    ex_bounds = torch.searchsorted(items_ex, starts).tolist() if items_ex.numel() else None
    for b, lo in enumerate(range(0, num_cols, width)):
        hi = min(num_cols, lo + width)
        w = hi - lo
        block, cmp = views(w)
        fill_block(block, lo, hi)
        if lo == 0:
            block[:, 0] = NEG_INF
        if t_bounds[b + 1] > t_bounds[b]:          # the target's own score is exactly t
            sl = slice(t_bounds[b], t_bounds[b + 1])
            block[t_rows[sl], t_items[sl] - lo] = target_scores[t_rows[sl]]
        if ex_bounds is not None and ex_bounds[b + 1] > ex_bounds[b]:
            sl = slice(ex_bounds[b], ex_bounds[b + 1])
            block[rows_ex[sl], items_ex[sl] - lo] = NEG_INF
        torch.ge(block, t, out=cmp)                 # 1.0 / 0.0: exact counts, see RankBuffers.get
        ahead += cmp.sum(dim=1).long()
        if lo == 0:
            kb = min(k_eff, w)
            top_vals[:, :kb], top_ids[:, :kb] = block.topk(kb, dim=1)
            if kb < k_eff:            # a tiny first block: let every item of the next blocks compete
                top_vals[:, kb:] = NEG_INF
            threshold = top_vals[:, -1:].contiguous()
        else:
            rows, cols = _beating(block, threshold)     # beats the running K-th best: rare after a few blocks
            if rows.numel():
                pending.append((rows, block[rows, cols], cols + lo))
                pending_count += rows.numel()
            if pending and (pending_count >= merge_at or hi == num_cols):
                top_vals, top_ids = _merge_top(top_vals, top_ids, *(torch.cat(p) for p in zip(*pending)))
                threshold = top_vals[:, -1:].contiguous()
                pending, pending_count = [], 0
    rank = torch.where(target_scores == NEG_INF, num_candidates - 1, ahead - 1)
    top_ids = _drop_excluded(top_ids, top_vals, num_cols, rows_ex, items_ex)
    if k_eff < k:
        top_ids = torch.cat([top_ids, top_ids.new_zeros(num_rows, k - k_eff)], dim=1)
    return BatchRanking(rank, top_ids, num_candidates)


CHUNK = 64     # columns whose maximum is compared with the running K-th best before any element is


def _beating(block: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) of the entries of ``block`` (B, w) > ``threshold`` (B, 1), columns ascending
    within a row: the maxima of 64-column chunks first, then only the chunks whose maximum beats
    the threshold element by element (a full comparison and ``nonzero`` over the block cost
    several times a chunk maximum on CPU)."""
    num_rows, w = block.shape
    full = w - w % CHUNK
    rows, cols = block.new_zeros(0, dtype=torch.long), block.new_zeros(0, dtype=torch.long)
    if full:
        chunks = block[:, :full].unflatten(1, (full // CHUNK, CHUNK))
        hit_rows, hit_chunks = (chunks.amax(dim=2) > threshold).nonzero(as_tuple=True)
        if hit_rows.numel():
            which, offset = (chunks[hit_rows, hit_chunks] > threshold[hit_rows]).nonzero(as_tuple=True)
            rows, cols = hit_rows[which], hit_chunks[which] * CHUNK + offset
    if full < w:
        tail_rows, tail_cols = (block[:, full:] > threshold).nonzero(as_tuple=True)
        if tail_rows.numel():
            rows, cols = torch.cat([rows, tail_rows]), torch.cat([cols, tail_cols + full])
    return rows, cols


def _merge_top(top_vals: torch.Tensor, top_ids: torch.Tensor, rows: torch.Tensor, vals: torch.Tensor,
               ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge sparse (row, value, id) candidates into the running (B, K) top lists (ties: earlier first)."""
    num_rows, k = top_vals.shape
    dev = rows.device
    all_rows = torch.cat([torch.arange(num_rows, device=dev).repeat_interleave(k), rows])
    all_vals = torch.cat([top_vals.reshape(-1), vals])
    all_ids = torch.cat([top_ids.reshape(-1), ids])
    # one int64 sort by (row, value descending): float32 bits made order-preserving, then negated
    bits = all_vals.view(torch.int32).long()
    ordered = torch.where(bits < 0, -2 ** 31 - 1 - bits, bits)               # monotone in the float value
    key = all_rows * 2 ** 33 + (2 ** 31 - 1 - ordered)                       # value descending inside a row
    order = torch.sort(key, stable=True).indices
    counts = torch.bincount(all_rows, minlength=num_rows)
    starts = torch.cumsum(counts, 0) - counts
    keep = order[torch.arange(len(order), device=dev) - starts.repeat_interleave(counts) < k]
    return all_vals[keep].view(num_rows, k), all_ids[keep].view(num_rows, k)


def _drop_excluded(top_ids: torch.Tensor, top_vals: torch.Tensor, num_cols: int, rows_ex: torch.Tensor,
                   items_ex: torch.Tensor) -> torch.Tensor:
    """0 where a top-K slot holds an excluded item (only possible among -inf scores: too few candidates)."""
    low = top_vals == NEG_INF
    if not bool(low.any()):
        return top_ids
    rows = torch.arange(top_ids.shape[0], device=top_ids.device)[:, None].expand_as(top_ids)
    excluded = top_ids == 0
    if items_ex.numel():
        codes = top_ids * top_ids.shape[0] + rows
        excluded |= torch.isin(codes, items_ex * top_ids.shape[0] + rows_ex)
    top_ids = top_ids.masked_fill(low & excluded, 0)
    order = torch.sort((top_ids == 0).to(torch.uint8), dim=1, stable=True).indices   # 0s go last
    return top_ids.gather(1, order)


def rank_full(scores: torch.Tensor, targets: torch.Tensor, seen_rows: torch.Tensor | None,
              seen_items: torch.Tensor | None, k: int, exclude_seen: bool = True,
              buffers: RankBuffers | None = None) -> BatchRanking:
    """Full ranking of all N items for each row of ``scores`` (B, N+1), in item blocks.

    Same result as :func:`rank_full_reference` (the order of equal scores inside the top-K
    aside) without the (B, N+1) mask and masked copy: ``scores`` is read block by block
    into the reused ``buffers`` and never modified.
    """
    num_rows, num_cols = scores.shape
    if torch.isnan(scores).any():
        raise ValueError("the model produced NaN scores; its metrics would be meaningless")
    target_scores = scores.gather(1, targets[:, None])[:, 0].float()

    def fill(out, lo, hi):
        out.copy_(scores[:, lo:hi])

    return _rank_blocks(fill, num_rows, num_cols, target_scores, targets, seen_rows, seen_items, k,
                        exclude_seen, buffers, scores.device)


def _table_finite(buffers: RankBuffers, table: torch.Tensor) -> bool:
    """Whether ``table`` is finite, checked once per table object (evaluation reuses one table)."""
    key = (id(table), table.data_ptr(), tuple(table.shape), table._version)
    if buffers.checked_table != key:
        if not bool(torch.isfinite(table).all()):
            return False
        buffers.checked_table = key
    return True


def _target_scores_dot(states: torch.Tensor, table: torch.Tensor, targets: torch.Tensor,
                       buffers: RankBuffers) -> torch.Tensor:
    """(B,) each row's score of its target, bit-identical to the score the block loop computes.

    A matrix product may round an element differently depending on the product's shape and the
    element's column (edge tiles), so the target's vector is placed at the column it has in its
    own block, in a product of that block's shape; rows whose targets share a column take turns.
    """
    num_rows, num_cols = states.shape[0], table.shape[0]
    dev = states.device
    width = buffers.width(num_rows, num_cols)
    last_lo = ((num_cols - 1) // width) * width
    views = buffers.get(num_rows, width, dev)
    out = torch.empty(num_rows, device=dev)
    col = targets % width
    for w, sel in ((width, targets < last_lo), (num_cols - last_lo, targets >= last_lo)):
        rows = torch.nonzero(sel).flatten()
        if rows.numel() == 0:
            continue
        rows = rows[torch.sort(col[rows], stable=True).indices]
        c = col[rows]
        first = torch.ones_like(c, dtype=torch.bool)
        first[1:] = c[1:] != c[:-1]
        group_start = torch.cummax(torch.where(first, torch.arange(len(c), device=dev), 0), 0).values
        turn = torch.arange(len(c), device=dev) - group_start       # 0 for the first row at a column, 1, ...
        block, _ = views(w)
        for k in range(int(turn.max()) + 1):
            r = rows[turn == k]
            cols = torch.zeros(w, table.shape[1], device=dev)
            cols[col[r]] = table[targets[r]]
            torch.mm(states, cols.T, out=block)
            out[r] = block[r, col[r]]
    return out


def rank_full_dot(states: torch.Tensor, item_table: torch.Tensor, targets: torch.Tensor,
                  seen_rows: torch.Tensor | None, seen_items: torch.Tensor | None, k: int,
                  exclude_seen: bool = True, buffers: RankBuffers | None = None) -> BatchRanking:
    """Full ranking where score = states (B, d) @ item_table (N+1, d).T, scored block by block.

    The (B, N+1) score matrix is never materialised: each block's matmul writes into the
    reused buffer, so memory is O(B x block + B x K). The target's score comes from a product of
    the same shape as its block, so items with the same vector as the target tie with it.
    """
    states = states.float()
    table = item_table.float()
    buffers = buffers if buffers is not None else RankBuffers()
    num_rows, num_cols = states.shape[0], table.shape[0]
    if not (torch.isfinite(states).all() and _table_finite(buffers, table)):
        raise ValueError("the model produced NaN or infinite user states or item vectors; "
                         "its metrics would be meaningless")
    target_scores = _target_scores_dot(states, table, targets, buffers)

    def fill(out, lo, hi):
        torch.mm(states, table[lo:hi].T, out=out)

    return _rank_blocks(fill, num_rows, num_cols, target_scores, targets, seen_rows, seen_items, k,
                        exclude_seen, buffers, states.device)


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
