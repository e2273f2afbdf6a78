"""Shared base of dot-product heads (torch): item table handling, scoring, target gathering."""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import Head, SeqBatch


class DotProductHead(Head):
    """score(u, i) = <user state, item vector>.

    Tied: the item vectors the views offer. Untied (``model.tied = false``, or no view
    offers a table): the head's own (N+1, d) table. The composer says which through
    ``ctx.tied_item_table``.
    """

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.own_items = None
        if not ctx.tied_item_table:
            self.own_items = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
            nn.init.trunc_normal_(self.own_items.weight, std=0.02)

    def items(self, item_emb: torch.Tensor | None) -> torch.Tensor:
        """(N+1, d) item vectors used for scoring."""
        if self.own_items is not None:
            return self.own_items.weight
        if item_emb is None:
            raise ValueError("head: no item vectors (no view offers item_representations(); set model.tied = false)")
        return item_emb

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        """user_states (B, d) -> (B, N+1) scores."""
        return user_states @ self.items(item_emb).to(user_states.dtype).T

    def score_table(self, item_emb: torch.Tensor | None) -> torch.Tensor | None:
        """The item table when this head scores with the plain dot product (a subclass that
        overrides ``score`` gets None, so evaluation calls its ``score``)."""
        if type(self).score is not DotProductHead.score:
            return None
        return self.items(item_emb)

    @staticmethod
    def targets_and_states(fused: torch.Tensor, batch: SeqBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Only positions with a target: fused (B, L, d) -> states (P, d), targets (P,)."""
        where = batch.targets > 0
        return fused[where], batch.targets[where]

    def sample_uniform(self, shape: tuple[int, ...], device) -> torch.Tensor:
        """Uniform negatives in 1..N (the caller masks accidental hits where it matters)."""
        return torch.randint(1, self.ctx.num_items + 1, shape, device=device)
