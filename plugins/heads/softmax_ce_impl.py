"""Full softmax cross-entropy over all N items, computed only at positions with a target."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.model.base import SeqBatch
from workbench_plugins.heads._chunked_ce import chunked_softmax_ce
from workbench_plugins.heads._dot import DotProductHead


class SoftmaxCEHead(DotProductHead):
    """Classes are the items 1..N, minus the items held out of training in the cold-start
    protocol (``ctx.held_out_items``, (N+1,) bool): those did not exist at training
    time, so they are not even negatives."""

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.register_buffer("classes", None, persistent=False)      # item id of each class
        self.register_buffer("class_of", None, persistent=False)     # class index of each item id
        held = ctx.held_out_items
        if held is not None and bool(torch.as_tensor(held).any()):
            known = ~torch.as_tensor(held, dtype=torch.bool)
            known[0] = False
            self.classes = known.nonzero().squeeze(1)
            self.class_of = torch.full((len(known),), -100, dtype=torch.long)
            self.class_of[self.classes] = torch.arange(len(self.classes))

    def class_table(self, table: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An (N+1, ...) item-indexed table and item ids (P,) -> the rows of the classes and the class of each id."""
        if self.classes is None:
            return table[1:], t - 1                              # padding is never a class
        return table[self.classes], self.class_of[t]

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        """fused (B, L, d) -> mean CE over the P target positions: fused chunk by chunk, the (P, N)
        logits never stored (``chunk_size`` > 0), or plain autograd over all (P, N) logits (0)."""
        h, t = self.targets_and_states(fused, batch)            # (P, d), (P,)
        if h.shape[0] == 0:
            return fused.sum() * 0.0
        items, t = self.class_table(self.items(item_emb), t)
        if self.options.chunk_size:
            return chunked_softmax_ce(h, items, t, self.options.chunk_size, self.options.label_smoothing)
        logits = h @ items.to(h.dtype).T                        # (P, N)
        return F.cross_entropy(logits.float(), t, label_smoothing=self.options.label_smoothing)
