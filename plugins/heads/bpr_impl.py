"""BPR: pairwise ranking loss against uniformly sampled negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._dot import DotProductHead
from workbench_plugins.heads.bce_impl import pos_neg_logits


class BPRHead(DotProductHead):
    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        pos, neg, hit = pos_neg_logits(self, fused, batch, item_emb, self.options.negatives)
        if pos.numel() == 0:
            return fused.sum() * 0.0
        losses = F.softplus(neg - pos[:, None]).masked_fill(hit, 0.0)       # -log sigmoid(s+ - s-)
        return losses.sum() / (~hit).sum().clamp(min=1)
