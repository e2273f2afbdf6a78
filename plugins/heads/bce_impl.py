"""BCE with sampled negatives (SASRec's original loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench.model.item_rows import gather_rows
from workbench_plugins.heads._dot import DotProductHead


def pos_neg_logits(head: DotProductHead, fused: torch.Tensor, batch: SeqBatch, item_emb, k: int):
    """-> pos (P,), neg (P, k) float logits and the negatives (P, k); accidental hits resampled once."""
    h, t = head.targets_and_states(fused, batch)                           # (P, d), (P,)
    items = head.items(item_emb)
    neg = head.sample_uniform((t.shape[0], k), h.device)                   # (P, k)
    hit = neg == t[:, None]
    neg = torch.where(hit, head.sample_uniform(neg.shape, h.device), neg)
    # gather_rows before the cast: only the rows read get a gradient when the table is row-sparse
    pos = (h * gather_rows(items, t).to(h.dtype)).sum(-1).float()
    if k * h.shape[1] >= items.shape[0]:
        # many negatives (gSASRec's 256 x d 64 > 3,417 items): one (P, N+1) matmul and a gather of
        # k logits is far cheaper than gathering a (P, k, d) tensor of negative vectors
        negl = torch.gather(h @ items.to(h.dtype).T, 1, neg).float()
    else:
        negl = torch.einsum("pd,pkd->pk", h, gather_rows(items, neg).to(h.dtype)).float()
    return pos, negl, neg == t[:, None]


class BCEHead(DotProductHead):
    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        pos, neg, hit = pos_neg_logits(self, fused, batch, item_emb, self.options.negatives)
        if pos.numel() == 0:
            return fused.sum() * 0.0
        neg_loss = F.softplus(neg).masked_fill(hit, 0.0).sum(-1)            # -log(1 - sigmoid(s-))
        return (F.softplus(-pos) + neg_loss).mean()
