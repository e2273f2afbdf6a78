"""Action-type view (torch implementation); options in :mod:`.action`.

``x_t = A[a_t] (* gate) + E[i_t]`` (B, L, d) where the item part is used when ``with_items``:
the action embedding scales the item vector (``E[i_t] * (1 + A'[a_t])``) so the same item
viewed or purchased gives different events. States ``LN(x_t + mean(x_{t-w+1..t}))``.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import causal_window_mean


class ActionView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        n_actions = len(ctx.actions) + 1                   # 0 = none / unknown
        self.action_emb = nn.Embedding(n_actions, dim)
        self.action_gate = nn.Embedding(n_actions, dim)
        nn.init.zeros_(self.action_gate.weight)
        if options.with_items:
            self.item_emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
            nn.init.normal_(self.item_emb.weight, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.dropout = Dropout(options.dropout)

    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask
        actions = batch.actions if batch.actions is not None else torch.zeros_like(batch.items)
        actions = actions.clamp(min=0, max=self.action_emb.num_embeddings - 1)
        x = self.action_emb(actions)
        if self.options.with_items:
            x = x + self.item_emb(batch.items) * (1 + self.action_gate(actions))
        m = mask.unsqueeze(-1).to(x.dtype)
        x = x * m
        states = self.norm(x + causal_window_mean(x, mask, self.options.context_window))
        return ViewOutput(self.dropout(states) * m)
