"""Torch implementations of wbtest_good's view, fusion and head (small but real)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import Fusion, FusionOutput, Head, View, ViewOutput


class CumulativeMeanView(View):
    """states[b, t] = mean of the item embeddings at real positions <= t: (B, L, d), causal."""

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)

    def forward(self, batch):
        mask = batch.mask.unsqueeze(-1).float()                 # (B, L, 1)
        x = self.emb(batch.items) * self.options.scale * mask   # (B, L, d)
        counts = mask.cumsum(dim=1).clamp(min=1.0)               # (B, L, 1)
        return ViewOutput(states=x.cumsum(dim=1) / counts)

    def item_representations(self):
        return self.emb.weight                                   # (N+1, d)


class AverageFusion(Fusion):
    """fused = mean over the V views, weights = 1/V everywhere: (B, L, d) and (B, L, V)."""

    def forward(self, states, batch):
        stacked = torch.stack(states, dim=-1)                    # (B, L, d, V)
        b, length, _, v = stacked.shape
        return FusionOutput(fused=stacked.mean(dim=-1), weights=torch.full((b, length, v), 1.0 / v))


class DotHead(Head):
    """score = user_state . item_emb; loss = full softmax cross-entropy at positions with a target."""

    def loss(self, fused, batch, item_emb):
        logits = fused @ item_emb.T                              # (B, L, N+1)
        keep = batch.targets > 0
        return F.cross_entropy(logits[keep], batch.targets[keep])

    def score(self, user_states, item_emb, batch):
        return user_states @ item_emb.T                          # (B, N+1)
