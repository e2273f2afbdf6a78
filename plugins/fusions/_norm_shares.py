"""Shared by fusions whose per-view weights are each view's share of the contribution norms (torch)."""

from __future__ import annotations

import torch


def norm_shares(norms: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """norms (B, L, V) >= 0 -> weights (B, L, V), rows summing to 1: ``norms / sum(norms)``, and the
    (V,) ``fallback`` weights at positions where every norm is 0 (padding, silent views)."""
    total = norms.sum(-1, keepdim=True)
    fallback = fallback.to(norms.device, norms.dtype).expand_as(norms)
    return torch.where(total > 0, norms / total.clamp(min=1e-12), fallback)
