"""Full softmax cross-entropy over all N items, computed only at positions with a target."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._chunked_ce import chunked_softmax_ce
from workbench_plugins.heads._dot import DotProductHead


class SoftmaxCEHead(DotProductHead):
    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """fused (B, L, d) -> mean CE over the P target positions; (P, N) logits at once, or
        recomputed chunk by chunk and never stored (``chunk_size`` > 0)."""
        h, t = self.targets_and_states(fused, batch)            # (P, d), (P,)
        if h.shape[0] == 0:
            return fused.sum() * 0.0
        items = self.items(item_emb)[1:]                        # (N, d): padding is never a class
        if self.options.chunk_size:
            return chunked_softmax_ce(h, items, t - 1, self.options.chunk_size, self.options.label_smoothing)
        logits = h @ items.to(h.dtype).T                        # (P, N)
        return F.cross_entropy(logits.float(), t - 1, label_smoothing=self.options.label_smoothing)
