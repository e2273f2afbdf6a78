"""Multi-scale temporal view (torch implementation); options in :mod:`.temporal`.

Per position t (causal: only events <= t are read):

- time features (when the data has real timestamps): log2-bucketed gap to the
  previous event, hour-of-day and day-of-week of the event, position within the
  current session (sessions split by ``session_gap`` seconds), number of sessions
  so far, log-bucketed time since the first event of the window. Without real
  timestamps only the position-derived features remain (events since the first).
- multi-window pooling: the mean item embedding over the last w events for each
  w in ``windows`` (0 = whole history), computed with cumulative sums, combined
  by attention over scales with a per-position query;
- change rates over ``change_window`` events: how often the item's category set
  changes between consecutive events, and the embedding drift (1 - cosine of the
  item to the mean of the previous window).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import (
    causal_window_mean, causal_window_sum, first_real_index, log_bucket, previous)


MAX_CATEGORIES = 256


def category_matrix(ctx: DataContext) -> torch.Tensor:
    """(N+1, C) float multi-hot of the ``MAX_CATEGORIES`` most frequent item categories
    (C >= 1; all zero when the data has none). Caps memory for tag-like vocabularies."""
    from collections import Counter

    cats = ctx.item_categories or []
    counts = Counter(c for row in cats for c in (row or []))
    vocab = sorted(c for c, _ in counts.most_common(MAX_CATEGORIES))
    index = {c: k for k, c in enumerate(vocab)}
    m = torch.zeros(ctx.num_items + 1, max(1, len(vocab)))
    for item, row in enumerate(cats[: ctx.num_items + 1]):
        for c in row or []:
            if c in index:
                m[item, index[c]] = 1.0
    return m


class TemporalView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        o = options
        self.windows = list(o.windows)
        self.item_emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self.real_time = bool(ctx.has_timestamps)
        nb = o.gap_buckets
        # bucket 0 = padding, 1 = first event; gaps use buckets 2..nb+1
        self.gap_emb = nn.Embedding(nb + 2, dim, padding_idx=0)
        self.hour_emb = nn.Embedding(25, dim, padding_idx=0)
        self.dow_emb = nn.Embedding(8, dim, padding_idx=0)
        self.since_first_emb = nn.Embedding(nb + 2, dim, padding_idx=0)
        self.session_pos_emb = nn.Embedding(nb + 2, dim, padding_idx=0)
        self.session_count_emb = nn.Embedding(nb + 2, dim, padding_idx=0)
        self.register_buffer("categories", category_matrix(ctx), persistent=False)
        self.change_proj = nn.Linear(2, dim)
        self.scale_query = nn.Linear(dim, dim)
        self.scale_key = nn.Linear(dim, dim)
        self.scale_bias = nn.Parameter(torch.zeros(len(self.windows)))
        self.norm = nn.LayerNorm(dim)
        self.dropout = Dropout(o.dropout)
        self.last_scale_weights: torch.Tensor | None = None

    # ------------------------------------------------------------ features
    def time_features(self, batch: SeqBatch) -> torch.Tensor:
        """(B, L, d) embedding sum of the time features."""
        mask = batch.mask
        B, L = mask.shape
        nb = self.options.gap_buckets
        if batch.timestamps is None or not self.real_time:
            ts = (torch.arange(L, device=mask.device).expand(B, L) - first_real_index(mask).unsqueeze(1)).float()
            real_time = False
        else:
            ts = batch.timestamps.float()
            real_time = True
        first = first_real_index(mask).clamp(max=L - 1)
        t0 = ts.gather(1, first.unsqueeze(1))
        since_first = (ts - t0).clamp(min=0)
        feats = self.since_first_emb(torch.where(mask, log_bucket(since_first, nb) + 1,
                                                 torch.zeros_like(mask, dtype=torch.long)))
        if not real_time:
            return feats
        prev_real = previous(mask, False)
        gap = (ts - previous(ts)).clamp(min=0)
        gap_b = torch.where(prev_real, log_bucket(gap, nb) + 2, torch.ones_like(mask, dtype=torch.long))
        gap_b = torch.where(mask, gap_b, torch.zeros_like(gap_b))
        local = ts + self.options.utc_offset_hours * 3600.0
        hour = torch.remainder(torch.floor(local / 3600.0), 24).long() + 1
        dow = torch.remainder(torch.floor(local / 86400.0) + 3, 7).long() + 1  # 1970-01-01 was a Thursday
        zero = torch.zeros_like(hour)
        new_session = mask & (~prev_real | (gap > self.options.session_gap))
        session_id = torch.cumsum(new_session.long(), dim=1)              # 1.. per row
        # position within the session: events since the last session start (cummax of start index)
        idx = torch.arange(L, device=mask.device).expand(B, L)
        start_idx = torch.cummax(torch.where(new_session, idx, torch.zeros_like(idx)), dim=1).values
        in_session = (idx - start_idx).float()
        feats = feats + self.gap_emb(gap_b) \
            + self.hour_emb(torch.where(mask, hour, zero)) + self.dow_emb(torch.where(mask, dow, zero)) \
            + self.session_pos_emb(torch.where(mask, log_bucket(in_session, nb) + 1, zero)) \
            + self.session_count_emb(torch.where(mask, log_bucket(session_id.float(), nb) + 1, zero))
        return feats

    def change_rates(self, items: torch.Tensor, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, 2): category change rate and embedding drift over ``change_window`` events."""
        w = self.options.change_window
        cats = self.categories[items]                                     # (B, L, C)
        prev_cats = previous(cats)
        inter = (cats * prev_cats).sum(-1)
        union = ((cats + prev_cats) > 0).float().sum(-1)
        pair = mask & previous(mask, False)
        changed = torch.where(union > 0, 1.0 - inter / union.clamp(min=1.0), torch.zeros_like(union))
        changed = changed * pair.float()
        cat_rate = causal_window_sum(changed.unsqueeze(-1), w - 1) / \
            causal_window_sum(pair.float().unsqueeze(-1), w - 1).clamp(min=1.0)
        prev_mean = previous(causal_window_mean(emb, mask, w - 1))
        drift = 1.0 - F.cosine_similarity(emb, prev_mean, dim=-1, eps=1e-6)
        drift = (drift * pair.float()).unsqueeze(-1)
        return torch.cat([cat_rate, drift], dim=-1)

    # ------------------------------------------------------------ forward
    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask
        emb = self.item_emb(batch.items)                                 # (B, L, d)
        pools = torch.stack([causal_window_mean(emb, mask, w) for w in self.windows], dim=2)  # (B, L, S, d)
        time = self.time_features(batch)
        query = self.scale_query(emb + time)                             # (B, L, d)
        keys = self.scale_key(pools)                                     # (B, L, S, d)
        logits = (keys * query.unsqueeze(2)).sum(-1) / self.dim ** 0.5 + self.scale_bias
        attn = torch.softmax(logits, dim=-1)                             # (B, L, S)
        self.last_scale_weights = attn.detach()
        pooled = (attn.unsqueeze(-1) * pools).sum(2)
        change = self.change_proj(self.change_rates(batch.items, emb, mask))
        states = self.norm(emb + pooled + time + change)
        states = self.dropout(states) * mask.unsqueeze(-1).to(states.dtype)
        return ViewOutput(states)

    def item_representations(self) -> torch.Tensor | None:
        return self.item_emb.weight if self.options.offer_item_embeddings else None
