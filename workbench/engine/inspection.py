"""A trained run kept in memory for repeated questions (the app's Inspect screen; imports torch).

:class:`LoadedRun` is a run's :class:`~workbench.engine.inference.Recommender` (the one top-K path,
as ``workbench recommend``) with its :class:`~workbench.engine.explain.Explainer` (as ``workbench
explain``), loaded once; each question then costs a few forward passes:

- :meth:`LoadedRun.recommend`: the top-K items, each with every view's contribution measured through
  the actual fusion (its score minus its score when that view's state is replaced by the view's mean
  baseline), and the fusion's own weight of each view for this history;
- :meth:`LoadedRun.explain`: one item's explanation (:meth:`Explainer.explain`: view contributions,
  the history events that drove the score, the nearest history items, with titles).

:class:`KeptRun` holds one :class:`LoadedRun` at a time for a caller that asks from several threads:
it loads a run on first use and keeps it, and checks on every request that the run's dataset still
holds the data the run was trained on (:func:`workbench.store.runs.check_data`, as ``recommend``),
dropping the model when it does not.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.engine.explain import Explainer
from workbench.engine.inference import Query, Recommender


def parse_raw_items(text: str) -> list[str]:
    """``"RAW1,RAW2,..."`` -> raw item ids, oldest first (spaces around ids ignored); ValueError for an
    empty entry or no ids."""
    raw = [part.strip() for part in text.split(",")]
    if not raw or any(not r for r in raw):
        raise ValueError("expected raw item ids separated by commas, e.g. 50,172,133")
    return raw


@dataclass(frozen=True)
class Who:
    """Whom to recommend for: a user of the run's dataset (internal number) or a new person's raw
    item ids, oldest first."""

    user: int | None = None
    raw_history: tuple[str, ...] | None = None


class LoadedRun:
    """A run's recommender and explainer, loaded once. Not thread-safe by itself: hold :attr:`lock`
    (the explainer's gradient hooks must not see another thread's forward pass)."""

    def __init__(self, rec: Recommender):
        self.rec = rec
        self.explainer = Explainer(rec)
        self.lock = threading.Lock()

    @classmethod
    def load(cls, ws, run_id: int, device: str = "auto") -> "LoadedRun":
        """Load run ``run_id``'s best weights on ``device`` (refuses a run whose dataset changed:
        :class:`workbench.store.runs.DataChanged`), and the views' baselines so that the first
        question costs no more than the next."""
        loaded = cls(Recommender.load(ws, run_id, device=device))
        if len(loaded.rec.model.views) > 1:
            loaded.explainer.view_baselines("mean")
        return loaded

    @property
    def run_id(self) -> int:
        return self.rec.run_id

    @property
    def device(self) -> str:
        return str(self.rec.built.device)

    def query(self, who: Who) -> Query:
        """The query for ``who``; KeyError naming every unknown raw item id, ValueError for an empty history."""
        if who.raw_history is not None:
            return self.rec.query_history(self.rec.items(list(who.raw_history)))
        return self.rec.query_user(int(who.user))

    def history(self, query: Query) -> list[dict[str, Any]]:
        """The query's events, oldest first: {pos, raw_id, title} (for a new person's history)."""
        ds = self.rec.dataset
        return [{"pos": p, "raw_id": ds.item_raw_ids[i], "title": ds.item_titles[i]} for p, i in enumerate(query.items)]

    def recommend(self, query: Query, k: int = 10) -> dict[str, Any]:
        """-> {views, view_weights ({view: weight} or None), history_length, items: [{item (dataset id),
        raw_id, title, score, contributions ({view: measured contribution}, empty for one view)}]}."""
        top = self.rec.top_k(query, k)
        views = self.explainer.views
        per_item = self.explainer.view_contributions_many(query, [r["item"] for r in top]) if len(views) > 1 else []
        items = [{**r, "contributions": {c["view"]: c["contribution"] for c in cs}}
                 for r, cs in zip(top, per_item or [[] for _ in top])]
        weights = {c["view"]: c["fusion_weight"] for c in per_item[0]} if per_item else None
        if weights and any(w is None for w in weights.values()):
            weights = None
        return {"views": views, "view_weights": weights, "history_length": int(len(query.items)), "items": items}

    def explain(self, query: Query, item: int, top_events: int = 8, nearest: int = 3) -> dict[str, Any]:
        """:meth:`Explainer.explain` of dataset item ``item`` (gradient x input, mean view baselines)."""
        return self.explainer.explain(query, item, top_events=top_events, nearest=nearest)


class KeptRun:
    """At most one loaded run, kept between requests from any thread; see the module docstring."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self._key: tuple[str, int] | None = None
        self._run: LoadedRun | None = None
        self._lock = threading.Lock()

    def holds(self, ws_path: Path, run_id: int) -> bool:
        return self._key == (str(Path(ws_path).resolve()), run_id)

    def drop(self) -> None:
        with self._lock:
            self._key, self._run = None, None

    def get(self, ws_path: Path, run_id: int) -> LoadedRun:
        """Run ``run_id`` of the workspace at ``ws_path``, loaded on first use; before every use, checks its
        data (DataChanged, after dropping the model, when its dataset is gone or holds other data)."""
        from workbench.store import open_workspace
        from workbench.store import runs

        key = (str(Path(ws_path).resolve()), run_id)
        with self._lock:
            with open_workspace(ws_path) as ws:
                try:
                    runs.check_data(ws, runs.require(ws, run_id))
                except runs.DataChanged:
                    if self._key == key:
                        self._key, self._run = None, None
                    raise
                if self._key != key:
                    self._key, self._run = None, None          # one model in memory
                    self._run = LoadedRun.load(ws, run_id, self.device)
                    self._key = key
            return self._run

