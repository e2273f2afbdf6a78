"""Inference from a trained run: the one top-K path (CLI ``recommend``, the app's Inspect, ``explain``).

:class:`Recommender` loads a run's model once (no training tensors, validation batches or
optimiser: see :mod:`workbench.engine.build`) and keeps it; each call then costs one forward pass.
It serves users of the run's dataset (by raw user id) and people the dataset never saw (a history
of raw item ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.engine import batches as B
from workbench.engine.build import BuiltModel, load_trained_model
from workbench.model.base import SeqBatch


@dataclass
class Query:
    """One history to recommend after: its events (item ids, absolute timestamps, action ids; oldest
    first, all of them, also those older than the model's window), the one-row batch the model reads
    (the latest ``max_len`` events), and the dataset's user index (0 for a person it never saw)."""

    batch: SeqBatch
    items: np.ndarray
    timestamps: np.ndarray
    actions: np.ndarray
    user: int = 0

    @property
    def history(self) -> np.ndarray:
        """The history's item ids (excluded from the ranking when the run excludes seen items)."""
        return self.items


class Recommender:
    """A stored run's model with its best weights, ready for top-K queries."""

    def __init__(self, built: BuiltModel, run_id: int):
        self.built, self.run_id = built, run_id
        ds = built.dataset
        self._user_index = {raw: u for u, raw in enumerate(ds.user_raw_ids) if u > 0}
        self._item_index = {raw: i for i, raw in enumerate(ds.item_raw_ids) if i > 0}

    @classmethod
    def load(cls, ws, run_id: int, device: str = "cpu") -> "Recommender":
        return cls(load_trained_model(ws, run_id, device=device), run_id)

    @property
    def dataset(self):
        return self.built.dataset

    @property
    def model(self):
        return self.built.model

    @property
    def max_len(self) -> int:
        return self.built.cfg.model.max_len

    # ------------------------------------------------------------ queries
    def user(self, raw_user: str) -> int:
        """Dataset index of a raw user id; KeyError naming it and the dataset."""
        try:
            return self._user_index[str(raw_user)]
        except KeyError:
            raise KeyError(f"no user {raw_user!r} in dataset {self.dataset.name!r}") from None

    def items(self, raw_items: list[str]) -> np.ndarray:
        """Dataset item ids of raw item ids; KeyError naming every unknown one."""
        unknown = [r for r in raw_items if str(r) not in self._item_index]
        if unknown:
            shown = ", ".join(repr(str(r)) for r in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise KeyError(f"{len(unknown)} unknown item id{'s' if len(unknown) > 1 else ''} for dataset "
                           f"{self.dataset.name!r}: {shown}")
        return np.asarray([self._item_index[str(r)] for r in raw_items], dtype=np.int64)

    def query_user(self, user: int, upto: int | None = None) -> Query:
        """User ``user``'s events (before absolute event position ``upto``, default all of them)."""
        ds = self.dataset
        start, end = int(ds.offsets[user]), int(ds.offsets[user + 1] if upto is None else upto)
        return self.query_events(ds.items[start:end], ds.timestamps[start:end], ds.actions[start:end], user)

    def query_history(self, items: np.ndarray) -> Query:
        """A new person's history of dataset item ids, oldest first (times and actions as
        :func:`workbench.engine.batches.new_history_events` gives them)."""
        if len(items) == 0:
            raise ValueError("the history is empty: give at least one item id")
        return self.query_events(*B.new_history_events(self.dataset, items))

    def query_events(self, items: np.ndarray, timestamps: np.ndarray, actions: np.ndarray, user: int = 0) -> Query:
        """A query from explicit events (e.g. a history with some events removed)."""
        batch = B.events_batch(self.dataset, [(items, timestamps, actions)], np.array([user]), self.max_len)
        return Query(batch, np.asarray(items, dtype=np.int64), np.asarray(timestamps, dtype=np.float64),
                     np.asarray(actions, dtype=np.int64), user)

    # ------------------------------------------------------------ scoring
    def scores(self, batch: SeqBatch) -> torch.Tensor:
        """(B, N+1) float32 scores of every item (column 0 is padding) for each row of ``batch``
        (no autocast: one user's scores are cheap, and explanations compare small differences)."""
        model, batch = self.model, batch.to(self.built.device)
        with torch.no_grad():
            return model.score(model.encode(batch), batch).float()

    def rankable(self, scores: torch.Tensor, history: np.ndarray) -> torch.Tensor:
        """``scores`` (N+1,) with padding, and the history's items when the run excludes seen items, at -inf."""
        scores = scores.clone()
        scores[0] = float("-inf")
        if self.built.cfg.evaluation.exclude_seen and len(history):
            scores[torch.tensor(history, dtype=torch.long, device=scores.device)] = float("-inf")   # a copy
        return scores

    def top_k(self, query: Query, k: int = 10) -> list[dict[str, Any]]:
        """-> [{item (dataset id), raw_id, title, score}] best first (seen items excluded when the run does)."""
        scores = self.rankable(self.scores(query.batch)[0], query.history)
        k = min(k, int(torch.isfinite(scores).sum()))
        top = torch.topk(scores, k)
        ds = self.dataset
        return [{"item": i, "raw_id": ds.item_raw_ids[i], "title": ds.item_titles[i], "score": float(s)}
                for s, i in zip(top.values.tolist(), top.indices.tolist())]

    def recommend(self, query: Query, k: int = 10) -> dict[str, Any]:
        """-> {run_id, history_length, items: [{item, raw_id (both the raw id), title, score}]} (the CLI's JSON)."""
        items = [{"item": r["raw_id"], "raw_id": r["raw_id"], "title": r["title"], "score": r["score"]}
                 for r in self.top_k(query, k)]
        return {"run_id": self.run_id, "history_length": int(len(query.history)), "items": items}

