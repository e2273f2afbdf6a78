"""Shared item-ID embedding table for views (torch)."""

from __future__ import annotations

import math

import torch
from torch import nn


class ItemEmbedding(nn.Module):
    """(N+1, d) item table, row 0 (padding) kept at zero; truncated-normal init (std 0.02)."""

    def __init__(self, num_items: int, dim: int):
        super().__init__()
        self.table = nn.Embedding(num_items + 1, dim, padding_idx=0)
        nn.init.trunc_normal_(self.table.weight, std=0.02)
        with torch.no_grad():
            self.table.weight[0].zero_()
        self.dim = dim

    def forward(self, items: torch.Tensor, scale: bool = False) -> torch.Tensor:
        """items (B, L) long -> (B, L, d)."""
        x = self.table(items)
        return x * math.sqrt(self.dim) if scale else x

    @property
    def weight(self) -> torch.Tensor:
        return self.table.weight
