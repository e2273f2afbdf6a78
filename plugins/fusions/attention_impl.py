"""Attention over views: ``a = softmax_k(q(s_query) . k(s_k) / sqrt(d))``, ``fused = sum_k a_k v(s_k)``."""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import Fusion, FusionOutput
from workbench.model.dropout import Dropout


class AttentionFusion(Fusion):
    def __init__(self, options, ctx, dim: int, num_views: int):
        super().__init__(options, ctx, dim, num_views)
        if options.query_view >= num_views:
            raise ValueError(f"fusion.attention.query_view: {options.query_view} but only {num_views} views "
                             f"(0-based)")
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.view_bias = nn.Parameter(torch.zeros(num_views))   # learned prior per view
        self.norm = nn.LayerNorm(dim)
        self.dropout = Dropout(options.dropout)

    def forward(self, states, batch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d), weights (B, L, V) = attention over views."""
        stacked = torch.stack(list(states), dim=2)                                   # (B, L, V, d)
        q = self.query(states[self.options.query_view]).unsqueeze(2)                 # (B, L, 1, d)
        logits = (q * self.key(stacked)).sum(-1) / self.dim ** 0.5 + self.view_bias  # (B, L, V)
        attn = torch.softmax(logits, dim=-1)
        mixed = (attn.unsqueeze(-1) * self.value(stacked)).sum(2)
        if self.options.residual:
            mixed = mixed + states[self.options.query_view]
        return FusionOutput(self.dropout(self.norm(mixed)), attn)
