"""Full ranking in item blocks: running rank counts and top-K lists, never the (B, N+1) matrix.

The conventions (exclusion, pessimistic ties, top-K padding) are those of
:mod:`workbench.engine.ranking`; :func:`workbench.engine.ranking.rank_full_reference` is the
one-matrix definition these kernels are tested against. Top-K lists are canonical: descending
score, and among equal scores the lower item id first.

Each batch of B users is scored block by block (B x width scores written into a reused buffer).
Per block: the padding column and the user's excluded items are set to -inf, the candidates
scoring >= the target's score are counted (one float comparison and one sum), and the 64-column
chunks whose maximum beats the running K-th best are copied out; once B x K chunks have gathered,
their elements that beat it are merged into the running top-K lists.

On CPU a batch is shared among worker threads, each running its torch ops on one core
(:func:`_one_core_workers`). A batch of at least ``ROW_SPLIT_MIN_ROWS`` rows per worker is split by
rows: each worker scans every block for its own rows, as one worker would (:func:`_by_rows`).
A smaller batch is shared by blocks: each worker takes the next unclaimed block when it is done
with one (so the workers finish a batch together), the workers publish their K-th best so that
each can drop what another's list already beats, and the batch's set-up and final merge run on
one of them too:
a matrix product of one block is too small for the intra-op threads of two cores to beat two
independent products (measured: ~59 against ~80 GFLOP per second of CPU time on a quiet machine,
~8 against ~80 on a busy one), and the per-block bookkeeping of one thread overlaps the other's
product. Each worker keeps its own counts and top-K lists, merged at the end of the batch. The
block products of :func:`rank_full_dot` use oneDNN's float32 inner product where it gives
``torch.mm``'s numbers bit for bit and runs faster (:func:`_onednn_product`: ~2x faster with
AVX-512, ~10 % slower with AVX2 only, where ``torch.mm`` is kept). One
:class:`RankBuffers` serves one evaluation at a time.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import torch

from workbench.engine.eval_types import NEG_INF, BatchRanking

DEFAULT_BLOCK_ELEMENTS = 1 << 19     # scores per block (B x width): 2 MiB of float32
ROW_SPLIT_MIN_ROWS = 128     # rows per worker for it to rank rows of its own (see _by_rows)
CHUNK = 64     # columns whose maximum is compared with the running K-th best before any element is


class _Scratch:
    """One worker's reused (B, width) score block and float comparison block."""

    def __init__(self):
        self.scores: torch.Tensor | None = None
        self.ge: torch.Tensor | None = None

    def get(self, num_rows: int, width: int, device):
        """-> ``block(w)``: contiguous (num_rows, w) score and comparison views for any w <= width.

        The comparison block is float (1.0 / 0.0): a comparison written as float and summed is
        several times faster on CPU than one written as bool and counted, and exact (a block
        holds far fewer than 2**24 columns).
        """
        need = num_rows * width
        s = self.scores
        if s is None or s.device != torch.device(device) or s.numel() < need:
            self.scores = torch.empty(need, device=device)
            self.ge = torch.empty(need, device=device)
        scores, ge = self.scores, self.ge

        def block(w: int) -> tuple[torch.Tensor, torch.Tensor]:
            return scores[:num_rows * w].view(num_rows, w), ge[:num_rows * w].view(num_rows, w)

        return block


class RankBuffers:
    """What the blocked kernels keep across blocks and batches of one evaluation: each worker's
    scratch blocks (no per-batch reallocation; they grow when a larger batch or another device
    comes along, never shrink), the CPU worker threads, and two facts learned on the way (the item
    table already checked finite; whether this matrix product rounds a score differently in
    products of different shapes, see :func:`rank_full_dot`).

    ``workers``: threads sharing a batch's blocks on CPU (default: torch's thread count); other
    devices always use the calling thread. Call :meth:`close` when done (the threads also end
    when the buffers are garbage collected).
    """

    def __init__(self, block_elements: int = DEFAULT_BLOCK_ELEMENTS, workers: int | None = None):
        self.block_elements = int(block_elements)
        self.workers = workers
        self.scratch: list[_Scratch] = [_Scratch()]
        self.checked_table: tuple | None = None
        self.shape_dependent_products = False
        # (B, w, d, alignments of the two inputs): whether oneDNN's product equals torch.mm's there
        self.onednn_shapes: dict[tuple[int, ...], bool] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0

    def width(self, num_rows: int, num_cols: int) -> int:
        """Block width: a multiple of 64 columns (whole SIMD tiles of the matrix product, so equal
        item vectors get equal scores inside a block), at most the catalogue."""
        fit = min(self.block_elements // max(1, num_rows), 1 << 23)   # counts stay exact in float32
        return min(num_cols, max(64, fit - fit % 64))

    def num_workers(self, device: torch.device) -> int:
        if device.type != "cpu":
            return 1
        if self.workers is None:
            # read once, in the caller's thread (the first call comes from :meth:`run`): inside a
            # worker thread torch's count is 1, and a batch would then never be shared
            self.workers = torch.get_num_threads()
        return max(1, int(self.workers))

    def run(self, device: torch.device, fn):
        """``fn()`` on a worker thread when the blocks are shared among workers (all of a batch's
        work, not only the blocks: small ops on intra-op threads cost many times their work when
        the cores are busy), else here."""
        n = self.num_workers(device)
        return self.pool(n).submit(fn).result() if n > 1 else fn()

    def pool(self, n: int) -> ThreadPoolExecutor:
        if self._pool is None or self._pool_size < n:
            self.close()
            self._pool, self._pool_size = _one_core_workers(n), n
        while len(self.scratch) < n:
            self.scratch.append(_Scratch())
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _one_core_workers(n: int) -> ThreadPoolExecutor:
    """``n`` threads whose torch ops each run on one core.

    torch's intra-op thread count is per thread for OpenMP and MKL, but a thread copies the
    process-wide count the first time it asks for it; so each worker asks first, then sets 1 for
    itself, and the process-wide count is put back once all of them have done so.
    """
    total = torch.get_num_threads()
    ready = threading.Barrier(n + 1, timeout=60)

    def one_core() -> None:
        torch.get_num_threads()          # this thread's first look at the count happens now...
        torch.set_num_threads(1)         # ...so this one sticks (OpenMP's and MKL's are per thread)
        ready.wait()

    pool = ThreadPoolExecutor(n, thread_name_prefix="rank-block", initializer=one_core)
    for _ in range(n):      # every initializer blocks on the barrier: the pool starts n threads
        pool.submit(int)
    ready.wait()
    torch.set_num_threads(total)
    return pool


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


class _Batch:
    """What every block of one batch needs: targets and excluded pairs sorted by item, with the
    bounds of each block's share (one host transfer per batch, not per block)."""

    def __init__(self, num_rows, num_cols, width, target_scores, targets, rows_ex, items_ex, k, device):
        self.num_rows, self.num_cols, self.width, self.k = num_rows, num_cols, width, k
        self.target_scores = target_scores
        self.t = target_scores[:, None].contiguous()
        starts = torch.arange(0, num_cols + width, width, device=device)
        order = torch.argsort(targets)
        self.t_rows, self.t_cols = order, targets[order] % width
        self.t_bounds = torch.searchsorted(targets[order], starts).tolist()
        self.rows_ex, self.cols_ex = rows_ex, items_ex % width
        self.ex_bounds = torch.searchsorted(items_ex, starts).tolist() if items_ex.numel() else None
        self.counts = torch.empty(len(starts) - 1, num_rows, device=device)   # per block: entries >= target
        self.sharing = False                     # several workers: they publish their K-th best
        self.best_kth: torch.Tensor | None = None

    def publish(self, kth: torch.Tensor) -> None:
        """A worker's K-th best (B, 1) after a merge: no entry below it can be in the batch's top K,
        so every worker may drop those. Two workers publishing at once can lose one update: the
        bound is then lower than it could be, never wrong."""
        seen = self.best_kth
        self.best_kth = kth if seen is None else torch.maximum(seen, kth)


class _Share(NamedTuple):
    """What one worker's scan of a batch returns."""
    top_vals: torch.Tensor          # (B, K), canonical over the items of its blocks
    top_ids: torch.Tensor
    blocks: list[int]               # the blocks it scanned, in order
    found: list[torch.Tensor]       # with ``verify``: its blocks' own scores of the targets they hold


def _scan(fill_block, job: _Batch, claim, scratch: _Scratch, verify: bool, device) -> _Share:
    """One worker's share of a batch: the blocks it gets from ``claim()`` (ascending block numbers,
    shared with the other workers of the batch, until one >= the number of blocks).

    Writes ``job.counts[b]`` for its blocks; returns its (B, K) top values and ids (canonical
    over its items), the blocks it scanned and, when ``verify``, the block's own scores of the
    targets it met (in the order of ``job.t_rows``) — with ``verify`` False the target's entry is
    set to its given score instead.

    Per block only the chunks whose maximum beats the row's running K-th best are copied out
    (four torch calls: chunk maxima, comparison, ``nonzero``, gather); their elements are sifted
    and merged into the top-K lists once enough chunks have gathered, in one pass over all of them.
    With several workers, the bound is also the highest K-th best any of them published
    (:meth:`_Batch.publish`), reached rather than beaten: an entry that ties another worker's K-th
    best may hold a lower id than that worker's entries, so it can still enter the batch's list.
    """
    views = scratch.get(job.num_rows, job.width, device)
    k = min(job.k, job.num_cols)
    top_vals = torch.full((job.num_rows, k), NEG_INF, device=device)
    top_ids = torch.zeros(job.num_rows, k, dtype=torch.long, device=device)
    threshold, inclusive = None, True     # own bound: this worker's K-th best, beaten once it has merged
    shared = bound = None                 # the batch's published K-th best (reached); max(own, shared)
    pending: list[tuple[torch.Tensor, ...]] = []     # (rows, chunk values (n, 64), first column of each chunk)
    pending_count, merge_at = 0, job.num_rows * k
    found: list[torch.Tensor] = []
    done: list[int] = []
    num_blocks = len(job.t_bounds) - 1
    with torch.no_grad():
        while (b := claim()) < num_blocks:
            done.append(b)
            lo = b * job.width
            hi = min(job.num_cols, lo + job.width)
            block, cmp = views(hi - lo)
            block = fill_block(block, lo, hi)
            if lo == 0:
                block[:, 0] = NEG_INF
            t0, t1 = job.t_bounds[b], job.t_bounds[b + 1]
            if t1 > t0:
                rows, cols = job.t_rows[t0:t1], job.t_cols[t0:t1]
                if verify:
                    found.append(block[rows, cols])
                else:
                    block[rows, cols] = job.target_scores[rows]
            if job.ex_bounds is not None and job.ex_bounds[b + 1] > job.ex_bounds[b]:
                sl = slice(job.ex_bounds[b], job.ex_bounds[b + 1])
                block[job.rows_ex[sl], job.cols_ex[sl]] = NEG_INF
            torch.ge(block, job.t, out=cmp)                 # 1.0 / 0.0: exact counts, see _Scratch.get
            torch.sum(cmp, dim=1, out=job.counts[b])
            chunks, maxima = _chunk_maxima(block)
            if threshold is None:     # a first block: a threshold no higher than its K-th best
                threshold = bound = _kth_largest(maxima, block, k)
            if job.sharing and job.best_kth is not shared:      # another worker merged
                shared = job.best_kth
                bound = torch.maximum(threshold, shared)
            reach = inclusive or shared is not None
            hit_rows, hit_chunks = (torch.ge if reach else torch.gt)(maxima, bound).nonzero(as_tuple=True)
            if hit_rows.numel():
                pending.append((hit_rows, chunks[hit_rows, hit_chunks], hit_chunks * CHUNK + lo))
                pending_count += hit_rows.numel()
            if pending and (pending_count >= merge_at or inclusive):
                rows, vals, ids = _sift(pending, threshold, inclusive, shared)
                top_vals, top_ids = _merge_top(top_vals, top_ids, rows, vals, ids)
                # Later blocks hold larger ids: an entry that only ties the K-th best cannot enter
                # (strict >), and a stale (lower) threshold only lets through entries that the merge
                # drops again.
                threshold, inclusive = top_vals[:, -1:].contiguous(), False
                bound = threshold
                if job.sharing:
                    job.publish(threshold)
                    shared = job.best_kth
                    bound = torch.maximum(threshold, shared)
                pending, pending_count = [], 0
        if pending:
            top_vals, top_ids = _merge_top(top_vals, top_ids, *_sift(pending, threshold, inclusive, shared))
    return _Share(top_vals, top_ids, done, found)


def _chunk_maxima(block: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(chunks (B, c, 64), maxima (B, c)) of the block: chunk j holds columns [64 j, 64 j + 64);
    a last chunk of fewer than 64 columns is padded with -inf, in a copy of the block (only the
    catalogue's last block has such a chunk). Padding can only be listed where a row has fewer
    than K finite entries, and listed -inf entries get id 0 in the end.

    (A maximum over the middle dimension of a (B, 64, w // 64) view is twice as fast when w // 64
    is a multiple of 32, and ten times slower otherwise, on CPU with torch 2.13: not used.)
    """
    num_rows, w = block.shape
    full = w - w % CHUNK
    if full == w:
        chunks = block.view(num_rows, w // CHUNK, CHUNK)
    else:
        chunks = block.new_full((num_rows, full // CHUNK + 1, CHUNK), NEG_INF)
        chunks[:, :full // CHUNK] = block[:, :full].unflatten(1, (full // CHUNK, CHUNK))
        chunks[:, -1, :w - full] = block[:, full:]
    return chunks, chunks.amax(dim=2)


def _kth_largest(maxima: torch.Tensor, block: torch.Tensor, k: int) -> torch.Tensor:
    """(B, 1): a value that at least k entries of each row of ``block`` reach: the k-th largest of its
    chunk ``maxima``, or the k-th largest entry where the block has fewer than k chunks; -inf where
    it has fewer than k entries."""
    num_rows, w = block.shape
    if maxima.shape[1] >= k:
        return maxima.topk(k, dim=1).values[:, -1:].contiguous()
    if w >= k:
        return block.topk(k, dim=1).values[:, -1:].contiguous()
    return torch.full((num_rows, 1), NEG_INF, device=block.device)


def _sift(pending: list[tuple[torch.Tensor, ...]], threshold: torch.Tensor, inclusive: bool,
          shared: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, values, ids) of the elements of the pending chunks that beat their row's ``threshold``
    (B, 1) (or reach it, when ``inclusive``) and reach ``shared`` (B, 1) if given, ordered by row,
    then id: the candidates of a merge.

    The chunks were gathered block by block, each block's ordered by row, then column, and the
    blocks in ascending order; one stable sort by row keeps the ids ascending within a row.
    """
    rows = torch.cat([p[0] for p in pending])
    vals = torch.cat([p[1] for p in pending])
    starts = torch.cat([p[2] for p in pending])
    keep = (torch.ge if inclusive else torch.gt)(vals, threshold[rows])
    if shared is not None:
        keep &= vals >= shared[rows]
    which, offset = keep.nonzero(as_tuple=True)
    rows, vals, ids = rows[which], vals[which, offset], starts[which] + offset
    if len(pending) > 1:
        order = torch.sort(rows, stable=True).indices
        rows, vals, ids = rows[order], vals[order], ids[order]
    return rows, vals, ids


def _order_key(vals: torch.Tensor) -> torch.Tensor:
    """int64 in [0, 2**32), ascending as the float32 ``vals`` descend (-0.0 and 0.0 equal)."""
    bits = (vals + 0.0).view(torch.int32).long()                              # + 0.0: -0.0 -> 0.0
    ordered = torch.where(bits < 0, -2 ** 31 - 1 - bits, bits)               # monotone in the float value
    return 2 ** 31 - 1 - ordered


def _merge_lists(vals: list[torch.Tensor], ids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The canonical (B, K) top lists of several workers' (B, K) lists: per row the K largest
    values, equal values by ascending id (ids < 2**31), by one sort of (value, id) keys a row."""
    if len(vals) == 1:
        return vals[0], ids[0]
    k = vals[0].shape[1]
    all_vals, all_ids = torch.cat(vals, dim=1), torch.cat(ids, dim=1)
    order = torch.sort(_order_key(all_vals) * 2 ** 31 + all_ids, dim=1).indices[:, :k]
    return all_vals.gather(1, order), all_ids.gather(1, order)


def _merge_top(top_vals: torch.Tensor, top_ids: torch.Tensor, rows: torch.Tensor, vals: torch.Tensor,
               ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge sparse (row, value, id) candidates into the running (B, K) top lists: per row the K
    largest values, equal values by ascending id.

    The candidates' ids must ascend within each row and exceed the ids of the lists (a scan's
    later blocks): then the stable sort keeps equal values in id order.
    """
    num_rows, k = top_vals.shape
    dev = rows.device
    all_rows = torch.cat([torch.arange(num_rows, device=dev).repeat_interleave(k), rows])
    all_vals = torch.cat([top_vals.reshape(-1), vals])
    all_ids = torch.cat([top_ids.reshape(-1), ids])
    key = all_rows * 2 ** 33 + _order_key(all_vals)      # one stable int64 sort: row, then value descending
    order = torch.sort(key, stable=True).indices
    counts = torch.bincount(all_rows, minlength=num_rows)
    starts = torch.cumsum(counts, 0) - counts
    keep = order[torch.arange(len(order), device=dev) - starts.repeat_interleave(counts) < k]
    return all_vals[keep].view(num_rows, k), all_ids[keep].view(num_rows, k)


def _claimer():
    """-> ``claim()``: 0, 1, 2, ... to whichever thread asks first."""
    lock, numbers = threading.Lock(), itertools.count()

    def claim() -> int:
        with lock:
            return next(numbers)

    return claim


def _rank_blocks(fill_block, num_rows: int, num_cols: int, target_scores: torch.Tensor, targets: torch.Tensor,
                 seen_rows: torch.Tensor | None, seen_items: torch.Tensor | None, k: int, exclude_seen: bool,
                 buffers: RankBuffers | None, device, verify: bool = False, worker: int = 0,
                 workers: int | None = None) -> BatchRanking | None:
    """Rank in item blocks: ``fill_block(out (B, w), lo, hi)`` -> the scores of items [lo, hi) (in ``out``
    or in a tensor of its own).

    Keeps running counts of candidates scored >= the target and running top-K lists; memory is
    O(workers x B x block + B x K) whatever N is. With ``verify``, ``target_scores`` are taken to
    be the scores the blocks will hold and that is checked: None when a block disagreed (the
    counts would be off), else the ranking. ``workers`` (default: the buffers' count) share the
    blocks, using the scratch blocks from number ``worker`` on.
    """
    buffers = buffers if buffers is not None else RankBuffers()
    device = torch.device(device)
    rows_ex, items_ex = _excluded_pairs(num_rows, num_cols, targets, seen_rows, seen_items, exclude_seen)
    num_candidates = (num_cols - 1) - torch.bincount(rows_ex, minlength=num_rows)[:num_rows]
    width = buffers.width(num_rows, num_cols)
    job = _Batch(num_rows, num_cols, width, target_scores.float(), targets, rows_ex, items_ex, k, device)
    num_blocks = len(job.t_bounds) - 1
    n = min(workers or buffers.num_workers(device), num_blocks)
    # this thread scans; the pool (n threads, this one among them when n > 1) runs n - 1 more scans;
    # each takes the next unclaimed block, so the workers finish together whatever each block costs
    claim = _claimer()
    job.sharing = n > 1
    pool = buffers.pool(n) if n > 1 else None
    futures = [pool.submit(_scan, fill_block, job, claim, buffers.scratch[worker + i], verify, device)
               for i in range(1, n)]
    parts = [_scan(fill_block, job, claim, buffers.scratch[worker], verify, device)]
    parts += [f.result() for f in futures]
    if verify:
        found = torch.cat([torch.cat(p.found) if p.found else target_scores.new_zeros(0) for p in parts])
        expected = torch.cat([job.target_scores[job.t_rows[job.t_bounds[b]:job.t_bounds[b + 1]]]
                              for p in parts for b in p.blocks])
        if not torch.equal(found, expected):
            return None
    top_vals, top_ids = _merge_lists([p.top_vals for p in parts], [p.top_ids for p in parts])
    ahead = job.counts.sum(dim=0, dtype=torch.float64).long()
    rank = torch.where(job.target_scores == NEG_INF, num_candidates - 1, ahead - 1)
    top_ids = top_ids.masked_fill(top_vals == NEG_INF, 0)     # excluded, or scored -inf by the model
    if top_ids.shape[1] < k:
        top_ids = torch.cat([top_ids, top_ids.new_zeros(num_rows, k - top_ids.shape[1])], dim=1)
    return BatchRanking(rank, top_ids, num_candidates)


def _row_parts(num_rows: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous row ranges, one per worker, of at least :data:`ROW_SPLIT_MIN_ROWS` rows each; a
    single range when the batch is too small for that (its workers then share the item blocks)."""
    n = max(1, min(workers, num_rows // ROW_SPLIT_MIN_ROWS))
    return [(num_rows * i // n, num_rows * (i + 1) // n) for i in range(n)]


def _by_rows(buffers: RankBuffers, device: torch.device, num_rows: int, rank_rows) -> BatchRanking | None:
    """``rank_rows(r0, r1, worker, workers)`` -> the ranking of rows [r0, r1) (or None), by the
    workers' own row ranges where the batch has enough rows (:func:`_row_parts`): each worker then
    scans every block for its rows alone, with no bound to share and no lists to merge; else by all
    the workers sharing the blocks of all the rows. None if any range gave None."""
    parts = _row_parts(num_rows, buffers.num_workers(device))
    if len(parts) == 1:
        return rank_rows(0, num_rows, 0, None)
    pool = buffers.pool(len(parts))
    futures = [pool.submit(rank_rows, r0, r1, i, 1) for i, (r0, r1) in enumerate(parts) if i > 0]
    results = [rank_rows(*parts[0], 0, 1)] + [f.result() for f in futures]
    if any(r is None for r in results):
        return None
    return BatchRanking(torch.cat([r.target_rank for r in results]), torch.cat([r.topk for r in results]),
                        torch.cat([r.num_candidates for r in results]))


def _pairs_in_rows(seen_rows: torch.Tensor | None, seen_items: torch.Tensor | None, r0: int, r1: int):
    """The (row, item) pairs of rows [r0, r1), rows counted from r0."""
    if seen_rows is None or seen_items is None:
        return seen_rows, seen_items
    inside = (seen_rows >= r0) & (seen_rows < r1)
    return seen_rows[inside] - r0, seen_items[inside]


def rank_full(scores: torch.Tensor, targets: torch.Tensor, seen_rows: torch.Tensor | None,
              seen_items: torch.Tensor | None, k: int, exclude_seen: bool = True,
              buffers: RankBuffers | None = None) -> BatchRanking:
    """Full ranking of all N items for each row of ``scores`` (B, N+1), in item blocks.

    Same result as :func:`workbench.engine.ranking.rank_full_reference` (with canonical top-K
    lists) without the (B, N+1) mask and masked copy: ``scores`` is read block by block into the
    reused ``buffers`` and never modified.
    """
    num_rows, num_cols = scores.shape
    if torch.isnan(scores).any():
        raise ValueError("the model produced NaN scores; its metrics would be meaningless")
    target_scores = scores.gather(1, targets[:, None])[:, 0].float()

    buffers = buffers if buffers is not None else RankBuffers()

    def rank_rows(r0, r1, worker, workers):
        def fill(out, lo, hi):
            return out.copy_(scores[r0:r1, lo:hi])

        return _rank_blocks(fill, r1 - r0, num_cols, target_scores[r0:r1], targets[r0:r1],
                            *_pairs_in_rows(seen_rows, seen_items, r0, r1), k, exclude_seen, buffers,
                            scores.device, worker=worker, workers=workers)

    return buffers.run(scores.device, lambda: _by_rows(buffers, scores.device, num_rows, rank_rows))


def _table_finite(buffers: RankBuffers, table: torch.Tensor) -> bool:
    """Whether ``table`` is finite, checked once per table object (evaluation reuses one table)."""
    key = (id(table), table.data_ptr(), tuple(table.shape), table._version)
    if buffers.checked_table != key:
        if not bool(torch.isfinite(table).all()):
            return False
        buffers.checked_table = key
    return True


def _target_scores_in_block_shape(states: torch.Tensor, table: torch.Tensor, targets: torch.Tensor,
                                  buffers: RankBuffers, worker: int = 0) -> torch.Tensor:
    """(B,) each row's score of its target, bit-identical to the score the block loop computes
    even where the matrix product rounds an element differently depending on the product's shape
    and the element's column (edge tiles): the target's vector is placed at the column it has in
    its own block, in a product of that block's shape; rows whose targets share a column take turns.
    """
    num_rows, num_cols = states.shape[0], table.shape[0]
    dev = states.device
    width = buffers.width(num_rows, num_cols)
    last_lo = ((num_cols - 1) // width) * width
    views = buffers.scratch[worker].get(num_rows, width, dev)
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


def _onednn_linear():
    """oneDNN's float32 inner-product primitive as torch exposes it for CPU, or None."""
    try:
        return torch.ops.mkldnn._linear_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


def _first_is_faster(first, second, rounds: int = 5) -> bool:
    """Whether ``first()`` runs faster than ``second()``: the best of ``rounds`` interleaved runs of
    each, in wall time (a one-off choice per block shape; a busy machine can make it pick the
    slower one, never a different result)."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((first, second)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0] < best[1]


def _onednn_product(states: torch.Tensor, table: torch.Tensor, buffers: RankBuffers):
    """``product(out, lo, hi)`` -> the (B, hi - lo) block of ``states @ table.T``: in ``out`` by
    ``torch.mm``, or a new tensor from oneDNN's inner product where that gives the very same
    numbers.

    On CPU oneDNN's float32 product ran about twice as fast as MKL's GEMM behind ``torch.mm`` on
    these shapes on an AVX-512 machine (B 256 x 2048 items x d 64: ~165 against ~82 GFLOP per
    CPU-second), and ~10 % slower on an AVX2 one. It is used for a block shape (B, w, d) and
    alignment of the inputs only after one such block came out bit for bit equal to ``torch.mm``'s
    (the same operations in the same order at every position of the shape, whatever the numbers)
    and ran faster there (:func:`_first_is_faster`); otherwise (e.g. d 256: another summation
    order) those blocks keep ``torch.mm``. Either way the scores, ties and rankings are those of
    ``torch.mm``: the choice changes only the speed.
    """
    op = _onednn_linear() if states.device.type == "cpu" else None

    def product(out, lo, hi):
        # the inputs' alignment too: a kernel could treat the first elements of a misaligned row apart
        key = (states.shape[0], hi - lo, states.shape[1], states.data_ptr() % 64, table[lo:hi].data_ptr() % 64)
        use = buffers.onednn_shapes.get(key) if op is not None else False
        if use:
            return op(states, table[lo:hi], None, "none", [], "")
        torch.mm(states, table[lo:hi].T, out=out)
        if use is None:       # first block of this shape: compare (a benign race between workers)
            try:
                same = torch.equal(op(states, table[lo:hi], None, "none", [], ""), out)
            except RuntimeError:
                same = False
            buffers.onednn_shapes[key] = same and _first_is_faster(
                lambda: op(states, table[lo:hi], None, "none", [], ""),
                lambda: torch.mm(states, table[lo:hi].T, out=out))
        return out

    return product


def rank_full_dot(states: torch.Tensor, item_table: torch.Tensor, targets: torch.Tensor,
                  seen_rows: torch.Tensor | None, seen_items: torch.Tensor | None, k: int,
                  exclude_seen: bool = True, buffers: RankBuffers | None = None) -> BatchRanking:
    """Full ranking where score = states (B, d) @ item_table (N+1, d).T, scored block by block.

    The (B, N+1) score matrix is never materialised: each block's product writes into a reused
    buffer, so memory is O(B x block + B x K).

    The rank count needs each target's score before the blocks are scored, and it must be the
    very score its own block will hold (items with the target's vector must tie with it). It is
    first taken from one small (B, B) product, whose diagonal equals the block's entries where
    the matrix product rounds an element the same in products of any shape (MKL's and oneDNN's
    GEMM on CPU do here); each block checks that. If a block disagrees, the batch is ranked again
    with target scores from products of the blocks' own shapes (:func:`_target_scores_in_block_shape`,
    a few extra block products per batch), and so are all later batches of these ``buffers``.
    """
    states = states.float()
    table = item_table.float()
    buffers = buffers if buffers is not None else RankBuffers()
    return buffers.run(states.device, lambda: _rank_full_dot_here(states, table, targets, seen_rows, seen_items, k,
                                                                  exclude_seen, buffers))


def _rank_full_dot_here(states, table, targets, seen_rows, seen_items, k, exclude_seen, buffers) -> BatchRanking:
    if not (torch.isfinite(states).all() and _table_finite(buffers, table)):
        raise ValueError("the model produced NaN or infinite user states or item vectors; "
                         "its metrics would be meaningless")

    def rank_rows(r0, r1, worker, workers):
        return _rank_dot_rows(states[r0:r1], table, targets[r0:r1], *_pairs_in_rows(seen_rows, seen_items, r0, r1),
                              k, exclude_seen, buffers, worker, workers)

    return _by_rows(buffers, states.device, states.shape[0], rank_rows)


def _rank_dot_rows(states, table, targets, seen_rows, seen_items, k, exclude_seen, buffers, worker, workers
                   ) -> BatchRanking:
    num_rows, num_cols = states.shape[0], table.shape[0]
    product = _onednn_product(states, table, buffers)

    def fill(out, lo, hi):
        return product(out, lo, hi)

    if not buffers.shape_dependent_products and num_rows > 1:
        provisional = torch.mm(states, table[targets].T).diagonal()
        ranked = _rank_blocks(fill, num_rows, num_cols, provisional, targets, seen_rows, seen_items, k,
                              exclude_seen, buffers, states.device, verify=True, worker=worker, workers=workers)
        if ranked is not None:
            return ranked
        buffers.shape_dependent_products = True
    target_scores = _target_scores_in_block_shape(states, table, targets, buffers, worker)
    return _rank_blocks(fill, num_rows, num_cols, target_scores, targets, seen_rows, seen_items, k,
                        exclude_seen, buffers, states.device, worker=worker, workers=workers)
