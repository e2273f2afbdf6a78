"""Builds views -> fusion -> head from the plugin registry; nothing here names a concrete plugin."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, ViewOutput, sum_item_tables


class ComposedModel(nn.Module):
    """The trainable model of an experiment.

    - ``states(batch)`` -> fused (B, L, d), aux loss (scalar or None), fusion weights (B, L, V) or None
    - ``loss(batch)`` -> scalar: head loss at every position with a target + the views' aux losses
    - ``encode(batch)`` -> (B, d): the state at the latest position (L-1) (what is scored)
    - ``score(states (B, d), batch)`` -> (B, N+1)
    """

    def __init__(self, views: list[nn.Module], fusion: nn.Module | None, head: nn.Module, dim: int,
                 tied: bool):
        super().__init__()
        self.views = nn.ModuleList(views)
        self.fusion = fusion
        self.head = head
        self.dim, self.tied = dim, tied

    @property
    def trainable(self) -> bool:
        return bool(getattr(self.head, "trainable", True))

    def item_embeddings(self) -> torch.Tensor | None:
        """(N+1, d) what the views offer, combined by the fusion, when tied; else None (the head's own table)."""
        if not self.tied:
            return None
        tables = [v.item_representations() for v in self.views]
        combine = getattr(self.fusion, "combine_item_tables", sum_item_tables)   # a fusion may not subclass Fusion
        return combine(tables)

    def states(self, batch: SeqBatch):
        return self.fuse([v(batch) for v in self.views], batch)

    def fuse(self, outs: list[ViewOutput], batch: SeqBatch):
        """The views' outputs (one per view, in order) -> (fused, aux loss, weights) as :meth:`states`.
        Explanations call it with a view's states replaced by a baseline."""
        if not self.views:
            B, L = batch.items.shape
            return batch.items.new_zeros((B, L, self.dim), dtype=torch.float32), None, None
        aux = [o.aux_loss for o in outs if o.aux_loss is not None]
        fused = self.fusion([o.states for o in outs], batch)
        return fused.fused, (sum(aux) if aux else None), fused.weights

    def loss(self, batch: SeqBatch) -> torch.Tensor:
        fused, aux, _ = self.states(batch)
        loss = self.head.loss(fused, batch, self.item_embeddings())
        return loss if aux is None else loss + aux

    def encode(self, batch: SeqBatch) -> torch.Tensor:
        fused, _, _ = self.states(batch)
        return fused[:, -1, :]

    def score(self, states: torch.Tensor, batch: SeqBatch) -> torch.Tensor:
        return self.head.score(states, self.item_embeddings(), batch)

    def score_table(self) -> torch.Tensor | None:
        """(N+1, d) T when ``score(states, batch) == states @ T.T`` (see :meth:`Head.score_table`), else None."""
        fn = getattr(self.head, "score_table", None)   # a head may not subclass Head
        return fn(self.item_embeddings()) if fn is not None else None

    def eval_outputs(self, states: torch.Tensor, batch: SeqBatch) -> dict[str, torch.Tensor]:
        """The head's auxiliary-task outputs at the evaluated position (see :class:`Head`)."""
        return self.head.eval_outputs(states, batch)

    def eval_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return self.head.eval_metrics(outputs)


def build_model(config, ctx: DataContext, registry=None) -> ComposedModel:
    """``config``: :class:`workbench.engine.config.ExperimentConfig`. Plugins are constructed
    ``cls(options, ctx, dim)`` (fusions also get ``num_views``); the head gets a copy of ``ctx``
    with ``tied_item_table`` set. ``ctx`` itself is not changed."""
    if registry is None:
        from workbench.plugins import get_registry
        registry = get_registry()
    dim = config.model.dim
    views = [registry.get("view", v.type).load()(v.options, ctx, dim) for v in config.views]
    offered = any(v.item_representations() is not None for v in views)
    fusion = None
    if views:
        fusion = registry.get("fusion", config.fusion.type).load()(config.fusion.options, ctx, dim, len(views))
    head_ctx = dataclasses.replace(ctx, tied_item_table=bool(config.model.tied and offered))   # ctx stays as given
    head = registry.get("head", config.head.type).load()(config.head.options, head_ctx, dim)
    return ComposedModel(views, fusion, head, dim, config.model.tied)
