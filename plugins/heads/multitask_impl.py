"""Multi-task head (options in :mod:`.multitask`).

``loss = item_weight * CE(f_t E^T, next item) + action_weight * CE(A f_t, next action)``
over positions with a target (the action term only where ``target_actions > 0``).
Action classes are the ids 1..K of ``ctx.actions`` (logit column 0 is unused).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import Head, SeqBatch


def binary_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula with average ranks for ties; nan if one class."""
    labels = labels.bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    s = scores.double()
    order = torch.argsort(s)
    sorted_s = s[order]
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=torch.float64)
    # average ranks over ties
    uniq, inverse = torch.unique(sorted_s, return_inverse=True)
    sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, torch.arange(1, len(s) + 1,
                                                                                            dtype=torch.float64))
    counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, torch.ones(len(s), dtype=torch.float64))
    ranks[order] = (sums / counts)[inverse]
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1(pred: torch.Tensor, truth: torch.Tensor) -> float:
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


class MultitaskHead(Head):
    def __init__(self, options, ctx, dim: int):
        super().__init__(options, ctx, dim)
        if not ctx.actions:
            raise ValueError("heads.multitask: the dataset has no action types (ctx.actions is empty); "
                             "the next-action task needs them")
        self.num_actions = len(ctx.actions)
        # the composer says whether the views offer a tied table (ctx.tied_item_table)
        self.own_items = None
        if not ctx.tied_item_table:
            self.own_items = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
            nn.init.normal_(self.own_items.weight, std=0.02)
        self.action_out = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, self.num_actions + 1))
        self.positive = (ctx.actions.index(options.positive_action) + 1
                         if options.positive_action in ctx.actions else None)

    def _table(self, item_emb):
        if item_emb is not None:
            return item_emb
        if self.own_items is None:
            raise RuntimeError("heads.multitask: no item table: the views offered none and the head was built "
                               "without its own (ctx.tied_item_table was True)")
        return self.own_items.weight

    def action_logits(self, fused: torch.Tensor) -> torch.Tensor:
        """(..., d) -> (..., K+1) logits over action ids (column 0 = none, never a target)."""
        logits = self.action_out(fused)
        return logits.index_fill(-1, torch.tensor([0], device=logits.device), float("-inf"))

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        sel = batch.targets > 0
        user = fused[sel]                                                  # (P, d)
        item_logits = user @ self._table(item_emb).t()                     # (P, N+1)
        item_logits[:, 0] = float("-inf")
        loss = self.options.item_weight * F.cross_entropy(item_logits, batch.targets[sel])
        if batch.target_actions is not None and self.options.action_weight > 0:
            # mean CE over the positions with a target action (0 = none is ignored), computed at every
            # position so the host never has to ask whether there are any (no device sync per step)
            asel = (batch.target_actions > 0).unsqueeze(-1)
            logits = self.action_logits(torch.where(asel, fused, 0.0)).flatten(0, -2)   # (B*L, K+1); padding -> 0
            total = F.cross_entropy(logits.float(), batch.target_actions.flatten(), ignore_index=0, reduction="sum")
            loss = loss + self.options.action_weight * total / asel.sum().clamp(min=1)
        return loss

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        """(B, d) -> (B, N+1) next-item scores."""
        return user_states @ self._table(item_emb).t()

    @torch.no_grad()
    def action_metrics(self, fused: torch.Tensor, batch: SeqBatch) -> dict[str, float]:
        """Metrics of the auxiliary task on positions with a target action: ``action_accuracy``,
        ``action_macro_f1`` and, when ``positive_action`` is in the vocabulary, ``<action>_auc`` and
        ``<action>_f1`` of the binary question 'is the next event that action'."""
        if batch.target_actions is None:
            return {}
        sel = batch.target_actions > 0
        return self._metrics(self.action_logits(fused[sel]), batch.target_actions[sel])

    def eval_outputs(self, user_states: torch.Tensor, batch: SeqBatch) -> dict[str, torch.Tensor]:
        """Action logits at the evaluated position and the held-out event's action."""
        if batch.target_actions is None:
            return {}
        return {"action_logits": self.action_logits(user_states).float(), "action_truth": batch.target_actions[:, -1]}

    def eval_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        if "action_truth" not in outputs:
            return {}
        sel = outputs["action_truth"] > 0
        return self._metrics(outputs["action_logits"][sel], outputs["action_truth"][sel])

    def _metrics(self, logits: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        if truth.numel() == 0:
            return {}
        pred = logits.argmax(-1)
        out = {"action_accuracy": float((pred == truth).float().mean())}
        out["action_macro_f1"] = sum(f1(pred == a, truth == a) for a in range(1, self.num_actions + 1)) \
            / self.num_actions
        if self.positive is not None:
            name = self.options.positive_action
            prob = torch.softmax(logits, -1)[:, self.positive]
            out[f"{name}_auc"] = binary_auc(prob, truth == self.positive)
            out[f"{name}_f1"] = f1(pred == self.positive, truth == self.positive)
        return out
