"""Contracts of the torch plugin kinds: views, fusions and heads.

Shapes: B batch, L sequence length (left-padded, the latest event at L-1),
d model width (``model.dim`` in the experiment, shared by all views), N number
of items (ids 1..N, 0 is padding), V number of views.

Every plugin class is constructed as ``cls(options, ctx, dim)`` where
``options`` is its parsed options dataclass and ``ctx`` the :class:`DataContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from workbench.model.sequences import ItemSequences


@dataclass
class DataContext:
    """What plugins may know about the training data (training split only: no leakage).

    - ``num_items`` N, ``num_users`` U; item ids 1..N, user ids 1..U.
    - ``max_len`` L used for batches.
    - ``has_timestamps``: whether ``SeqBatch.timestamps`` are real times (else positions).
    - ``item_titles`` / ``item_texts`` / ``item_categories``: lists of length N+1 (index 0 empty).
    - ``user_attributes``: list of length U+1 of dicts (index 0 empty).
    - ``actions``: action vocabulary; action id a (1-based) is ``actions[a-1]``.
    - ``train_sequences``: U+1 sequences (index 0 empty), each the user's training item ids in order,
      as :class:`workbench.model.sequences.ItemSequences` (two numpy columns: ``values`` and
      ``offsets``; ``train_sequences[u]`` is a ``list[int]`` built on demand). A list of lists
      given here is converted.
    - ``item_popularity``: (N+1,) float tensor of training counts.
    - ``item_raw_ids``: list of length N+1 (index 0 empty), each item's id as in the imported
      files (the precomputed view aligns feature files by them); empty when unknown.
    - ``held_out_items``: (N+1,) bool tensor of the items held out of training (cold-start
      protocol, ``split.holdout_items``), or None: they are not even negatives in training.
    - ``tied_item_table``: True when the head scores with the item table the views offer
      (``model.tied`` and a view offers one), False when the head keeps its own (N+1, d)
      table. The composer sets it on the context it gives the head (a copy); the default,
      False, is what a head built on its own gets.
    - ``workspace``: the open :class:`workbench.store.Workspace` (for caches), may be None.
    """

    num_items: int
    num_users: int
    max_len: int
    has_timestamps: bool = False
    item_titles: list[str] = field(default_factory=list)
    item_texts: list[str] = field(default_factory=list)
    item_categories: list[list[str]] = field(default_factory=list)
    user_attributes: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    train_sequences: ItemSequences = field(default_factory=lambda: ItemSequences.from_lists([]))
    item_popularity: torch.Tensor | None = None
    item_raw_ids: list[str] = field(default_factory=list)
    held_out_items: torch.Tensor | None = None
    tied_item_table: bool = False
    workspace: Any = None

    def __post_init__(self):
        self.train_sequences = ItemSequences.from_lists(self.train_sequences)


@dataclass
class SeqBatch:
    """A batch of behaviour sequences, all tensors on the model's device.

    - ``items`` (B, L) long: item ids, 0 = padding (left-padded).
    - ``targets`` (B, L) long: the next item after each position, 0 = no target
      (padding, or positions not trained/evaluated).
    - ``users`` (B,) long.
    - ``timestamps`` (B, L) float32 seconds since a per-row origin that is a whole number of
      weeks after the Unix epoch (so hour of day and day of week computed from them are right;
      see :func:`workbench.engine.batches.time_origins`), > 0 at real events, 0 at padding.
      Positions when the data has no time.
    - ``target_timestamps`` (B, L) float: time of the event being predicted (request context),
      same origin.
    - ``actions`` (B, L) long action ids (0 = padding/none) or None.
    - ``target_actions`` (B, L) long or None: action of the next event.
    - ``target_values`` (B, L) float or None: value (rating) of the next event, NaN where the data
      has none for that event; None when the dataset has no values at all.
    """

    items: torch.Tensor
    targets: torch.Tensor
    users: torch.Tensor
    timestamps: torch.Tensor | None = None
    target_timestamps: torch.Tensor | None = None
    actions: torch.Tensor | None = None
    target_actions: torch.Tensor | None = None
    target_values: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor:
        """(B, L) bool: True at real events."""
        return self.items > 0

    def to(self, device) -> "SeqBatch":
        return SeqBatch(**{k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
                           for k, v in self.__dict__.items()})

    def pin_memory(self) -> "SeqBatch":
        """A copy in page-locked memory, so ``to(cuda)`` copies without blocking the host."""
        return SeqBatch(**{k: (v.pin_memory() if isinstance(v, torch.Tensor) else v)
                           for k, v in self.__dict__.items()})


@dataclass
class ViewOutput:
    """``states`` (B, L, d): causal (position t sees events <= t only).
    ``aux_loss``: scalar tensor added to the training loss, or None."""

    states: torch.Tensor
    aux_loss: torch.Tensor | None = None


class View(nn.Module):
    """A view encoder. ``forward(batch) -> ViewOutput``.

    ``item_representations()`` returns (N+1, d) item vectors this view offers
    to the head (e.g. the ID embedding table, or projected text embeddings), or
    None. When several views offer them, the fusion combines them (a sum unless
    the fusion overrides ``Fusion.combine_item_tables``).
    """

    def __init__(self, options: Any, ctx: DataContext, dim: int):
        super().__init__()
        self.options, self.ctx, self.dim = options, ctx, dim

    def forward(self, batch: SeqBatch) -> ViewOutput:  # pragma: no cover - contract
        raise NotImplementedError

    def item_representations(self) -> torch.Tensor | None:
        return None


@dataclass
class FusionOutput:
    """``fused`` (B, L, d); ``weights`` (B, L, V) per-view contributions (rows sum to 1) or None."""

    fused: torch.Tensor
    weights: torch.Tensor | None = None


class Fusion(nn.Module):
    """Combines V view states. ``forward(states: list[(B, L, d)], batch) -> FusionOutput``."""

    def __init__(self, options: Any, ctx: DataContext, dim: int, num_views: int):
        super().__init__()
        self.options, self.ctx, self.dim, self.num_views = options, ctx, dim, num_views

    def forward(self, states: list[torch.Tensor], batch: SeqBatch) -> FusionOutput:  # pragma: no cover
        raise NotImplementedError

    def combine_item_tables(self, tables: list[torch.Tensor | None]) -> torch.Tensor | None:
        """One (N+1, d) table or None per view (what each view offers the head) -> the head's item
        vectors: their sum by default; a fusion may weight them (e.g. gated fusion)."""
        return sum_item_tables(tables)


def sum_item_tables(tables: list[torch.Tensor | None]) -> torch.Tensor | None:
    """The sum of the offered (N+1, d) item tables (None entries skipped), or None when none is offered."""
    offered = [t for t in tables if t is not None]
    if not offered:
        return None
    return offered[0] if len(offered) == 1 else torch.stack(offered).sum(0)


class Head(nn.Module):
    """Scores items and gives the loss.

    - ``loss(fused (B, L, d), batch, item_emb (N+1, d) | None) -> scalar``: trains on
      every position where ``batch.targets > 0``.
    - ``score(user_states (B, d), item_emb, batch) -> (B, N+1)``: higher is better;
      column 0 (padding) is ignored by the caller. ``batch`` holds the users'
      histories (for heads that score from history, e.g. item-KNN).
    - ``score_table(item_emb) -> (N+1, d) | None`` (optional): the table T when
      ``score`` is ``user_states @ T.T``, so large catalogues are ranked in blocks.
    - ``trainable``: False for heads that need no gradient training (baselines);
      the trainer then skips the training epochs and only evaluates.
    - ``eval_outputs(user_states (B, d), batch) -> dict of tensors`` (optional): per-batch
      outputs of an auxiliary task at the evaluated position (``batch.target_actions[:, -1]``
      is the action of the held-out event); the evaluation driver concatenates them over all
      batches and calls ``eval_metrics(outputs) -> {name: float}`` once, so metrics that do
      not average over batches (AUC, F1) are computed over every evaluated user.
    ``item_emb`` is what the views offered (tied embeddings) or None, in which
    case the head uses its own table (untied).
    """

    def __init__(self, options: Any, ctx: DataContext, dim: int):
        super().__init__()
        self.options, self.ctx, self.dim = options, ctx, dim

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def eval_outputs(self, user_states: torch.Tensor, batch: SeqBatch) -> dict[str, torch.Tensor]:
        return {}

    def eval_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {}

    trainable: bool = True

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None,
              batch: SeqBatch) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def score_table(self, item_emb: torch.Tensor | None) -> torch.Tensor | None:
        """(N+1, d) T when ``score(states, ...)`` is exactly ``states @ T.T``, else None (the default).

        Evaluation then ranks the catalogue block by block from T without building the
        (B, N+1) score matrix (:func:`workbench.engine.ranking.rank_full_dot`).
        """
        return None
