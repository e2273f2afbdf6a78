"""Gated multimodal unit for V views: ``fused = sum_k z_k tanh(W_k s_k)``, ``z = softmax(W_z [s_1; ...; s_V])``.

With V = 2 a softmax over two gates is the original sigmoid gate ``z`` / ``1 - z``.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import Fusion, FusionOutput
from workbench.model.dropout import Dropout


class GMUFusion(Fusion):
    def __init__(self, options, ctx, dim: int, num_views: int):
        super().__init__(options, ctx, dim, num_views)
        self.transforms = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_views))
        self.gate = nn.Linear(num_views * dim, num_views)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim) if options.norm else nn.Identity()
        self.dropout = Dropout(options.dropout)

    def forward(self, states, batch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d), weights (B, L, V) = gates z."""
        hidden = torch.stack([torch.tanh(t(s)) for t, s in zip(self.transforms, states)], dim=2)  # (B, L, V, d)
        z = torch.softmax(self.gate(torch.cat(list(states), dim=-1)), dim=-1)                    # (B, L, V)
        fused = self.norm(self.out((z.unsqueeze(-1) * hidden).sum(2)))
        return FusionOutput(self.dropout(fused), z)
