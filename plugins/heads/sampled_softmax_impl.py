"""Sampled softmax: target vs. K negatives shared across the batch, logits corrected by log Q."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._dot import DotProductHead


class SampledSoftmaxHead(DotProductHead):
    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        n = ctx.num_items
        if options.sampler == "popularity" and ctx.item_popularity is not None:
            q = torch.as_tensor(ctx.item_popularity, dtype=torch.float32).clone() + 1.0   # add-one smoothing
            q[0] = 0.0
        else:
            q = torch.ones(n + 1)
            q[0] = 0.0
        self.register_buffer("proposal", q / q.sum(), persistent=False)   # (N+1,), Q(0) = 0

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        h, t = self.targets_and_states(fused, batch)                           # (P, d), (P,)
        if h.shape[0] == 0:
            return fused.sum() * 0.0
        items = self.items(item_emb)
        neg = torch.multinomial(self.proposal, self.options.negatives, replacement=True)   # (K,)
        pos_logit = (h * items[t].to(h.dtype)).sum(-1, keepdim=True).float()               # (P, 1)
        neg_logit = (h @ items[neg].to(h.dtype).T).float()                                 # (P, K)
        if self.options.logq:
            logq = self.proposal.clamp(min=1e-12).log()
            pos_logit = pos_logit - logq[t][:, None]
            neg_logit = neg_logit - logq[neg][None, :]
        neg_logit = neg_logit.masked_fill(neg[None, :] == t[:, None], float("-inf"))   # accidental hits
        logits = torch.cat([pos_logit, neg_logit], dim=1)                              # (P, 1+K)
        return F.cross_entropy(logits, torch.zeros_like(t))
