"""Identity fusion (one view) and mean fusion (several views): the two parameter-free fusions."""

from __future__ import annotations

import torch

from workbench.model.base import Fusion, FusionOutput, SeqBatch


class IdentityFusion(Fusion):
    def __init__(self, options, ctx, dim, num_views):
        super().__init__(options, ctx, dim, num_views)
        if num_views > 1:
            raise ValueError(f"fusion.type: 'identity' takes exactly one view, got {num_views} "
                             "(use 'mean' or another fusion)")

    def forward(self, states: list[torch.Tensor], batch: SeqBatch) -> FusionOutput:
        """states: [(B, L, d)] -> fused (B, L, d), weights (B, L, 1) of ones."""
        (x,) = states
        return FusionOutput(x, torch.ones(*x.shape[:2], 1, device=x.device, dtype=x.dtype))


class MeanFusion(Fusion):
    def forward(self, states: list[torch.Tensor], batch: SeqBatch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d), weights (B, L, V) all 1/V."""
        x = torch.stack(states, dim=-1).mean(-1)
        w = torch.full((*x.shape[:2], len(states)), 1.0 / len(states), device=x.device, dtype=x.dtype)
        return FusionOutput(x, w)
