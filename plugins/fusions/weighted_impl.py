"""Learned weighted average: ``fused = sum_k softmax(a / T)_k s_k`` (options in :mod:`.weighted`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench.model.base import Fusion, FusionOutput


class WeightedFusion(Fusion):
    def __init__(self, options, ctx, dim: int, num_views: int):
        super().__init__(options, ctx, dim, num_views)
        init = options.initial
        if init is not None:
            if len(init) != num_views:
                raise ValueError(f"fusion.weighted.initial: {len(init)} weights for {num_views} views")
            if any(w <= 0 for w in init):
                raise ValueError("fusion.weighted.initial: weights must be > 0")
            logits = torch.tensor([math.log(w) * options.temperature for w in init])
        else:
            logits = torch.zeros(num_views)
        self.logits = nn.Parameter(logits)

    def view_weights(self) -> torch.Tensor:
        """(V,) current softmax weights."""
        return torch.softmax(self.logits / self.options.temperature, dim=0)

    def forward(self, states, batch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d), weights (B, L, V) (the same at every position)."""
        w = self.view_weights()
        stacked = torch.stack(list(states), dim=2)                     # (B, L, V, d)
        fused = (stacked * w.view(1, 1, -1, 1)).sum(2)
        B, L = stacked.shape[:2]
        return FusionOutput(fused, w.detach().expand(B, L, -1))
