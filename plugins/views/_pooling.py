"""Causal windowed pooling with cumulative sums, shared by the multi-view views.

Every function is O(B L d) with no Python loop over positions. Sequences are
left-padded (the latest event at L-1); ``mask`` (B, L) is True at real events.
"""

from __future__ import annotations

import math

import torch


def shifted_cumsum(x: torch.Tensor) -> torch.Tensor:
    """(B, L, ...) -> (B, L+1, ...): ``out[:, t+1] = sum(x[:, :t+1])``, ``out[:, 0] = 0``."""
    zeros = torch.zeros_like(x[:, :1])
    return torch.cat([zeros, torch.cumsum(x, dim=1)], dim=1)


def causal_window_sum(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, L, ...) -> (B, L, ...): sum of ``x`` over positions ``(t - window, t]``.

    ``window <= 0`` means the whole history ``[0, t]``. Sums run in float32 (a difference of
    two bf16/fp16 prefix sums would lose the window's value under autocast), the result has
    the input's dtype.
    """
    dtype = x.dtype
    c = shifted_cumsum(x.float())
    end = c[:, 1:]
    if window <= 0 or window >= x.shape[1]:
        return end.to(dtype)
    idx = torch.arange(x.shape[1], device=x.device)
    start_idx = (idx + 1 - window).clamp(min=0)
    start = c.index_select(1, start_idx)
    return (end - start).to(dtype)


def causal_window_mean(x: torch.Tensor, mask: torch.Tensor, window: int) -> torch.Tensor:
    """(B, L, d), mask (B, L) -> (B, L, d): mean of the real events in the last ``window``
    positions up to and including t (``window <= 0``: whole history); 0 where there are none."""
    m = mask.to(x.dtype).unsqueeze(-1)
    total = causal_window_sum(x * m, window)
    count = causal_window_sum(m, window)
    return total / count.clamp(min=1.0)


def log_bucket(values: torch.Tensor, num_buckets: int, base: float = 2.0) -> torch.Tensor:
    """Non-negative values (any shape) -> long buckets in ``[0, num_buckets)``:
    0 for values < 1, then ``1 + floor(log_base(value))`` clamped to the last bucket."""
    v = values.clamp(min=0.0)
    b = torch.floor(torch.log(v.clamp(min=1.0)) / math.log(base)).long() + 1
    b = torch.where(v < 1.0, torch.zeros_like(b), b)
    return b.clamp(max=num_buckets - 1)


def first_real_index(mask: torch.Tensor) -> torch.Tensor:
    """(B, L) bool -> (B,) long: index of the first real event of each left-padded row
    (L when the row is empty)."""
    L = mask.shape[1]
    return L - mask.long().sum(dim=1)


def previous(x: torch.Tensor, fill: float | int = 0) -> torch.Tensor:
    """(B, L, ...) -> value at t-1 for every t (``fill`` at t = 0)."""
    pad = torch.full_like(x[:, :1], fill)
    return torch.cat([pad, x[:, :-1]], dim=1)
