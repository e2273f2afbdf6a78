"""User and context view (torch implementation); options in :mod:`.user_context`.

User u's vector (d): sum over categorical attributes of an embedding of the value
(unseen or missing -> a shared 'unknown' row) plus a linear map of the
standardised numeric attributes (missing -> 0 = the mean). Context at t: the
time of the predicted event ``target_timestamps[t]``, which the request knows
(hour, day of week, log2 gap since event t). State: ``LN(user + context)``.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import log_bucket


def attribute_tables(ctx: DataContext, names: list[str] | None, max_categories: int):
    """-> (categorical: {name: (ids (U+1,) long, vocab size)}, numeric (U+1, K) float standardised, names)."""
    rows = ctx.user_attributes or []
    rows = list(rows) + [{}] * (ctx.num_users + 1 - len(rows))
    keys = names if names is not None else sorted({k for r in rows for k in (r or {})})
    cats, nums, num_names = {}, [], []
    for key in keys:
        values = [(r or {}).get(key) for r in rows]
        present = [v for v in values if v is not None and v != ""]
        if names is not None and not present:
            raise ValueError(f"views.user_context.attributes: no user has attribute {key!r}")
        if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            col = torch.tensor([float(v) if v is not None and v != "" else float("nan") for v in values])
            ok = ~torch.isnan(col)
            mean = col[ok].mean() if ok.any() else torch.tensor(0.0)
            std = col[ok].std() if ok.sum() > 1 else torch.tensor(1.0)
            col = torch.where(ok, (col - mean) / std.clamp(min=1e-6), torch.zeros_like(col))
            nums.append(col)
            num_names.append(key)
        else:
            top = [v for v, _ in Counter(str(v) for v in present).most_common(max_categories)]
            index = {v: k + 1 for k, v in enumerate(top)}                   # 0 = unknown / missing
            ids = torch.tensor([index.get(str(v), 0) if v is not None else 0 for v in values])
            cats[key] = (ids, len(top) + 1)
    numeric = torch.stack(nums, 1) if nums else torch.zeros(len(rows), 0)
    return cats, numeric, num_names


class UserContextView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        cats, numeric, self.numeric_names = attribute_tables(ctx, options.attributes, options.max_categories)
        self.categorical_names = sorted(cats)
        for k, name in enumerate(self.categorical_names):
            self.register_buffer(f"cat_ids_{k}", cats[name][0], persistent=False)
        self.cat_embs = nn.ModuleList(nn.Embedding(cats[n][1], dim) for n in self.categorical_names)
        self.register_buffer("numeric", numeric, persistent=False)
        self.numeric_proj = nn.Linear(numeric.shape[1], dim) if numeric.shape[1] else None
        self.user_bias = nn.Parameter(torch.zeros(dim))
        self.use_time = options.request_time and ctx.has_timestamps
        self.hour_emb = nn.Embedding(25, dim, padding_idx=0)
        self.dow_emb = nn.Embedding(8, dim, padding_idx=0)
        self.gap_emb = nn.Embedding(26, dim, padding_idx=0)
        self.norm = nn.LayerNorm(dim)
        self.dropout = Dropout(options.dropout)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        """(B,) user ids -> (B, d)."""
        users = users.clamp(min=0, max=self.numeric.shape[0] - 1)
        out = self.user_bias.expand(users.shape[0], -1)
        for k, emb in enumerate(self.cat_embs):
            out = out + emb(getattr(self, f"cat_ids_{k}")[users])
        if self.numeric_proj is not None:
            out = out + self.numeric_proj(self.numeric[users])
        return out

    def context(self, batch: SeqBatch) -> torch.Tensor:
        """(B, L, d) request context of the prediction made at each position (0 without real time)."""
        B, L = batch.items.shape
        if not self.use_time or batch.target_timestamps is None or batch.timestamps is None:
            return torch.zeros(B, L, self.dim, device=batch.items.device)
        t = batch.target_timestamps.float() + self.options.utc_offset_hours * 3600.0
        known = batch.mask & (batch.target_timestamps > 0)
        zero = torch.zeros_like(batch.items)
        hour = torch.where(known, torch.remainder(torch.floor(t / 3600.0), 24).long() + 1, zero)
        dow = torch.where(known, torch.remainder(torch.floor(t / 86400.0) + 3, 7).long() + 1, zero)
        gap = (batch.target_timestamps - batch.timestamps).clamp(min=0)
        gap_b = torch.where(known, log_bucket(gap, 25) + 1, zero)
        return self.hour_emb(hour) + self.dow_emb(dow) + self.gap_emb(gap_b)

    def forward(self, batch: SeqBatch) -> ViewOutput:
        m = batch.mask.unsqueeze(-1).to(self.user_bias.dtype)
        user = self.user_vectors(batch.users).unsqueeze(1)                     # (B, 1, d)
        states = self.norm(user + self.context(batch))
        return ViewOutput(self.dropout(states) * m)
