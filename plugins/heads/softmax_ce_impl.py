"""Full softmax cross-entropy over all N items, computed only at positions with a target."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._dot import DotProductHead


class SoftmaxCEHead(DotProductHead):
    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """fused (B, L, d) -> mean CE over the P target positions; logits (chunk, N) at a time."""
        h, t = self.targets_and_states(fused, batch)            # (P, d), (P,)
        items = self.items(item_emb)[1:]                        # (N, d): padding is never a class
        if h.shape[0] == 0:
            return fused.sum() * 0.0
        chunk = self.options.chunk_size
        total = fused.new_zeros((), dtype=torch.float32)
        for s in range(0, h.shape[0], chunk):
            logits = h[s:s + chunk] @ items.to(h.dtype).T        # (c, N)
            total = total + F.cross_entropy(logits.float(), t[s:s + chunk] - 1, reduction="sum",
                                            label_smoothing=self.options.label_smoothing)
        return total / h.shape[0]
