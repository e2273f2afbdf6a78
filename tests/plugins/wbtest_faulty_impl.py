"""Torch part of wbtest_faulty."""

from __future__ import annotations

import os

from torch import nn

from workbench.model.base import View, ViewOutput


class FaultyView(View):
    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
        self.steps = 0

    def forward(self, batch):
        if self.training:
            if int(os.environ.get("RANK", "0")) == self.options.fail_rank and self.steps >= self.options.fail_after:
                raise RuntimeError(f"wbtest_faulty: rank {self.options.fail_rank} fails at training step {self.steps}")
            self.steps += 1
        mask = batch.mask.unsqueeze(-1).float()
        x = self.emb(batch.items) * mask
        return ViewOutput(states=x.cumsum(dim=1) / mask.cumsum(dim=1).clamp(min=1.0))

    def item_representations(self):
        return self.emb.weight
