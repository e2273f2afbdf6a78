"""Item-KNN baseline: item-item similarity from training co-occurrence, summed over the history.

Construction (once, from ``ctx.train_sequences``): X is the binary (U+1, N+1)
user-item matrix; co-occurrence C = X^T X (sparse product); n_i = C_ii = users
who interacted with i. Similarity

    sim(i, j) = C_ij / (n_i^alpha * n_j^(1 - alpha) + shrinkage),   sim(i, i) = 0

(alpha = 0.5 is cosine). For every item i only its ``neighbours`` most similar
items j are kept. Scoring a user with recent history h_1..h_L (``batch.items``,
padding 0 ignored; a repeated event counts each time):

    score(j) = sum_l sim(h_l, j)

(with ``recent = n > 0`` only the last n events of the window count)

computed by gathering each history item's neighbour list and one scatter-add,
so the cost is B * L * neighbours, independent of N.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.model.base import DataContext, Head, SeqBatch
from workbench.model.sequences import ItemSequences
from workbench_plugins.heads.item_knn import ItemKNNOptions

_BLOCK_ELEMENTS = 1 << 22   # dense cells per block when picking neighbours (16 MiB float32)
_SCORE_ELEMENTS = 1 << 23   # gathered (row, position, neighbour) triples per scoring chunk


def user_item_matrix(train_sequences, num_items: int):
    """Binary scipy CSR (U+1, N+1): 1 where the user has the item in training (``train_sequences``:
    an :class:`ItemSequences` or a list of item-id lists)."""
    import scipy.sparse as sp

    seqs = ItemSequences.from_lists(train_sequences)
    rows, cols = seqs.rows(), seqs.values.astype(np.int64, copy=False)
    if cols.size and (cols.min() < 0 or cols.max() > num_items):
        raise ValueError(f"train_sequences hold item ids outside 0..{num_items}")
    x = sp.csr_matrix((np.ones(cols.size, dtype=np.float32), (rows, cols)),
                      shape=(len(seqs), num_items + 1))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def similarity_matrix(x, alpha: float, shrinkage: float):
    """Sparse CSR (N+1, N+1) float32 similarities from the binary user-item matrix; diagonal and item 0 zero."""
    co = (x.T.tocsr() @ x).tocoo()
    n = np.asarray(x.sum(axis=0)).ravel().astype(np.float64)
    keep = (co.row != co.col) & (co.row > 0) & (co.col > 0)
    r, c, v = co.row[keep], co.col[keep], co.data[keep].astype(np.float64)
    denom = np.power(n[r], alpha) * np.power(n[c], 1.0 - alpha) + shrinkage
    import scipy.sparse as sp

    return sp.csr_matrix(((v / denom).astype(np.float32), (r, c)), shape=co.shape)


def top_neighbours(sim, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the k largest similarities: (indices (N+1, k) long, values (N+1, k) float32), zero-padded."""
    num = sim.shape[0]
    k = max(1, min(k, num - 1))
    idx = torch.zeros(num, k, dtype=torch.long)
    val = torch.zeros(num, k, dtype=torch.float32)
    block = max(1, _BLOCK_ELEMENTS // num)
    for start in range(0, num, block):
        dense = torch.from_numpy(sim[start:start + block].toarray())
        top = dense.topk(k, dim=1)
        idx[start:start + block] = top.indices
        val[start:start + block] = top.values
    idx = idx.masked_fill(val <= 0, 0)        # no similarity: point at padding with weight 0
    val = val.clamp_min(0.0)
    return idx, val


class ItemKNNHead(Head):
    """Non-trainable baseline. ``score(user_states (B, d), item_emb, batch) -> (B, N+1)`` from ``batch.items``."""

    trainable = False

    def __init__(self, options: ItemKNNOptions | None, ctx: DataContext, dim: int):
        options = options or ItemKNNOptions()
        super().__init__(options, ctx, dim)
        alpha = 0.5 if options.similarity == "cosine" else options.alpha
        x = user_item_matrix(ctx.train_sequences, ctx.num_items)
        idx, val = top_neighbours(similarity_matrix(x, alpha, options.shrinkage), options.neighbours)
        self.register_buffer("neighbour_items", idx)     # (N+1, k)
        self.register_buffer("neighbour_sims", val)      # (N+1, k)

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """No gradient training: a constant 0 (the trainer skips training for ``trainable = False``)."""
        return fused.new_zeros(())

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        items = batch.items.to(self.neighbour_items.device)          # (B, L), left-padded
        if self.options.recent:
            items = items[:, -self.options.recent:]
        num_rows, length = items.shape
        k = self.neighbour_items.shape[1]
        scores = torch.zeros(num_rows, self.ctx.num_items + 1, device=items.device)
        chunk = max(1, _SCORE_ELEMENTS // max(1, length * k))
        for start in range(0, num_rows, chunk):
            part = items[start:start + chunk]                         # (b, L)
            idx = self.neighbour_items[part].reshape(part.shape[0], -1)   # (b, L*k)
            val = self.neighbour_sims[part].reshape(part.shape[0], -1)
            scores[start:start + chunk].scatter_add_(1, idx, val)
        scores[:, 0] = 0.0
        return scores.to(user_states.device)
