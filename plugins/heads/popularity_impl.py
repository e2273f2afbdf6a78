"""Popularity baseline: score(i) = number of training interactions of item i."""

from __future__ import annotations

import torch

from workbench.model.base import DataContext, Head, SeqBatch
from workbench.model.sequences import ItemSequences


def training_counts(ctx: DataContext) -> torch.Tensor:
    """(N+1,) float training interaction counts (index 0 = padding = 0)."""
    if ctx.item_popularity is not None:
        counts = torch.as_tensor(ctx.item_popularity, dtype=torch.float32).clone()
    else:
        flat = torch.from_numpy(ItemSequences.from_lists(ctx.train_sequences).values.astype("int64"))
        counts = torch.bincount(flat, minlength=ctx.num_items + 1).float()
    if counts.shape != (ctx.num_items + 1,):
        raise ValueError(f"item popularity has shape {tuple(counts.shape)}, expected ({ctx.num_items + 1},)")
    counts[0] = 0.0
    return counts


class PopularityHead(Head):
    """Non-trainable baseline; ignores user states and history.

    ``score(user_states (B, d), item_emb, batch) -> (B, N+1)``: the training counts, one row per user.
    """

    trainable = False

    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        self.register_buffer("counts", training_counts(ctx))

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """No gradient training: a constant 0 (the trainer skips training for ``trainable = False``)."""
        return fused.new_zeros(())

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        counts = self.counts.to(user_states.device)
        return counts.unsqueeze(0).expand(user_states.shape[0], -1).clone()
