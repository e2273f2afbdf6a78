"""Concatenation + projection fusion: ``fused = W [s_1; ...; s_V] + b`` (options in :mod:`.concat`)."""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import Fusion, FusionOutput
from workbench.model.dropout import Dropout
from workbench_plugins.fusions._norm_shares import norm_shares


class ConcatFusion(Fusion):
    def __init__(self, options, ctx, dim: int, num_views: int):
        super().__init__(options, ctx, dim, num_views)
        # one d x d block per view == one Linear over the concatenation, but the blocks give weights
        self.blocks = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_views))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.dropout = Dropout(options.dropout)
        # the weights where every contribution is zero (padding): uniform
        self.register_buffer("uniform", torch.full((num_views,), 1.0 / num_views), persistent=False)

    def forward(self, states, batch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d), weights (B, L, V) = share of ||W_k s_k||."""
        parts = torch.stack([blk(s) for blk, s in zip(self.blocks, states)], dim=2)   # (B, L, V, d)
        fused = parts.sum(2) + self.bias
        norms = parts.detach().norm(dim=-1)                                          # (B, L, V)
        weights = norm_shares(norms, self.uniform)
        return FusionOutput(self.dropout(fused), weights)
