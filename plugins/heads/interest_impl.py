"""Interest head (options in :mod:`.interest`).

``logit(u, i) = e_i . (W f_u) + b_i`` and ``p(y=1 | u, i) = sigmoid(logit)``, where
``f_u`` (B, d) is the fused state. With the weighted-average fusion of two views
``f = a h + (1 - a) v`` this is ``sigmoid(e_i . (W_h h + W_v v) + b_i)`` with
``W_h = a W`` and ``W_v = (1 - a) W``: one matrix scaled by the fusion's weights, not two free
matrices, and ``v`` comes from whichever view is fused (the ``vae`` view has its own encoder, so it
is not VAE(h) of the other view's ``h``). Close to the first research note's model, not the same
(docs/views.md, ``vae``).
``e_i`` is the views' item table when they offer one (tied), else the head's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import Head, SeqBatch


class InterestHead(Head):
    def __init__(self, options, ctx, dim: int):
        super().__init__(options, ctx, dim)
        self.proj = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.proj.weight)
        # the composer says whether the views offer a tied table (ctx.tied_item_table)
        self.own_items = None
        if not ctx.tied_item_table:
            self.own_items = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
            nn.init.normal_(self.own_items.weight, std=0.02)
        self.bias = nn.Parameter(torch.zeros(ctx.num_items + 1)) if options.item_bias else None

    def _table(self, item_emb: torch.Tensor | None) -> torch.Tensor:
        if item_emb is not None:
            return item_emb
        if self.own_items is None:
            raise RuntimeError("heads.interest: no item table: the views offered none and the head was built "
                               "without its own (ctx.tied_item_table was True)")
        return self.own_items.weight

    def _logits(self, user: torch.Tensor, table: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """user (..., d), items (..., K) -> (..., K) logits."""
        e = table[items]                                                   # (..., K, d)
        out = (e * self.proj(user).unsqueeze(-2)).sum(-1)
        if self.bias is not None:
            out = out + self.bias[items]
        return out

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """fused (B, L, d): BCE of the next item (label 1) vs ``num_negatives`` uniform items (label 0)
        at every position with a target; a sampled negative equal to the target is not counted."""
        sel = batch.targets > 0
        user = fused[sel]                                                  # (P, d)
        pos = batch.targets[sel]                                           # (P,)
        if pos.numel() == 0:
            return fused.sum() * 0.0
        neg = torch.randint(1, self.ctx.num_items + 1, (pos.shape[0], self.options.num_negatives),
                            device=pos.device)
        items = torch.cat([pos.unsqueeze(1), neg], dim=1)                  # (P, 1 + K)
        logits = self._logits(user, self._table(item_emb), items)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        weight = torch.ones_like(logits)
        weight[:, 1:] = (neg != pos.unsqueeze(1)).float()
        bce = F.binary_cross_entropy_with_logits(logits, labels, weight=weight, reduction="none")
        return bce[:, 0].mean() + bce[:, 1:].sum(1).mean() / self.options.num_negatives

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        """user_states (B, d) -> (B, N+1) logits; ``sigmoid`` of a logit is the interest probability."""
        table = self._table(item_emb)
        out = self.proj(user_states) @ table.t()
        if self.bias is not None:
            out = out + self.bias
        return out

    def probability(self, user_states: torch.Tensor, item_emb: torch.Tensor | None,
                    batch: SeqBatch) -> torch.Tensor:
        """(B, N+1) p(y=1 | u, i)."""
        return torch.sigmoid(self.score(user_states, item_emb, batch))
