"""gBCE (gSASRec): the positive probability is raised to beta to undo negative-sampling overconfidence.

beta = alpha * (t * (1 - 1/alpha) + 1/alpha), alpha = k / (N - 1) (Petrov & Macdonald, RecSys 2023).
loss = -beta * log sigmoid(s+) - sum_k log(1 - sigmoid(s-_k)), averaged like BCE-with-logits over
the 1 + k logits of each position (as the reference implementation does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._dot import DotProductHead
from workbench_plugins.heads.bce_impl import pos_neg_logits


class GBCEHead(DotProductHead):
    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        alpha = options.negatives / max(ctx.num_items - 1, 1)
        self.beta = alpha * (options.t * (1.0 - 1.0 / alpha) + 1.0 / alpha)

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        pos, neg, hit = pos_neg_logits(self, fused, batch, item_emb, self.options.negatives)
        if pos.numel() == 0:
            return fused.sum() * 0.0
        per_pos = self.beta * F.softplus(-pos) + F.softplus(neg).masked_fill(hit, 0.0).sum(-1)
        return per_pos.mean() / (1 + self.options.negatives)
