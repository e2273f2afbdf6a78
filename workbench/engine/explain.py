"""Explanations of one recommendation, measured through the model itself (imports torch).

Everything is computed in float32 (no autocast), as :class:`~workbench.engine.inference.Recommender` scores.

For a query (a user's history, or a new person's) and an item (default: the top recommendation):

- **View contributions** through the actual fusion: the item's score with every view, minus its
  score when one view's state is replaced by that view's baseline and fused again by the trained
  fusion (``baseline="mean"``: the view's mean state at the latest position over a seeded sample
  of training histories, i.e. the view's information about *this* user removed; ``"zero"``: a
  zero state). The item vectors the views offer the head are left as they are: they define the
  items being ranked, not the user. Also the item's rank without the view, and the fusion's own
  weight of the view (what the fusion reports, which is not a measured effect).
- **History attributions**: how much each event in the model's window drove the item's score.
  ``gradient_x_input``: the gradient of the score with respect to every embedding lookup the
  views make for an event (item, position, action, time, ... embeddings), times the looked-up
  vectors, summed per event; ``integrated_gradients``: the same along the straight path from
  all-zero lookups (``steps`` points; the attributions then sum to the score difference between
  the history and all-zero lookups, up to the path's discretisation; a view that layer-normalises
  its lookups first is scale-invariant along that path and jumps at zero, where the sum then
  falls short); ``occlusion``: the score
  drop when that one event is removed from the history (model-agnostic, one forward per event).
  Gradient methods see only views that read events through ``nn.Embedding`` lookups (all
  ID-based views); views that index fixed feature tables (text, precomputed, the graph view's
  propagated table) add nothing to them; occlusion covers every view.
- **Nearest history items**: the history items whose scoring vectors (the head's item table)
  are most similar (cosine) to the item's, with titles.

:func:`deletion_scores` re-scores an item after removing sets of events, for the faithfulness
benchmark (bench/explain_deletion.py): removing the top-attributed events should lower the
item's score and rank more than removing as many random ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.engine import batches as B
from workbench.engine.inference import Query, Recommender
from workbench.model.base import SeqBatch, ViewOutput

METHODS = ("gradient_x_input", "integrated_gradients", "occlusion")
BASELINES = ("mean", "zero")


def view_names(cfg) -> list[str]:
    """Display names of the configured views: the plugin name, numbered when a name repeats."""
    types = [v.type for v in cfg.views]
    return [t if types.count(t) == 1 else f"{t}{j + 1}" for j, t in enumerate(types)]


def _rows(batch: SeqBatch, index: torch.Tensor) -> SeqBatch:
    return SeqBatch(**{k: (v[index] if isinstance(v, torch.Tensor) else v) for k, v in batch.__dict__.items()})


class Explainer:
    """Explains a :class:`Recommender`'s recommendations (keep it: view baselines are computed once)."""

    def __init__(self, rec: Recommender, *, baseline_users: int = 256, seed: int = 0):
        self.rec, self.baseline_users, self.seed = rec, baseline_users, seed
        self.model, self.built = rec.model, rec.built
        self.device = self.built.device
        self.views = view_names(self.built.cfg)
        self._baselines: dict[str, list[torch.Tensor]] = {}

    # ------------------------------------------------------------ scoring helpers
    def _scores(self, batch: SeqBatch, outs: list[ViewOutput] | None = None) -> torch.Tensor:
        """(R, N+1) float scores; ``outs``: the views' outputs to fuse instead of computing them."""
        model = self.model
        if outs is None:
            outs = [v(batch) for v in model.views]
        fused, _, _ = model.fuse(outs, batch)
        return model.score(fused[:, -1, :], batch).float()

    def rankable(self, scores: torch.Tensor, query: Query) -> torch.Tensor:
        """(R, N+1) scores with padding and (when the run excludes them) the query's history items at -inf."""
        return torch.stack([self.rec.rankable(row, query.history) for row in scores])

    @staticmethod
    def rank_of(rankable: torch.Tensor, item: int) -> torch.Tensor:
        """(R,) 1-based rank of ``item`` in each row of rankable scores (ties counted in its favour)."""
        return 1 + (rankable > rankable[:, item:item + 1]).sum(1)

    def default_item(self, query: Query) -> int:
        return int(self.rec.top_k(query, 1)[0]["item"])

    # ------------------------------------------------------------ views
    def view_baselines(self, kind: str = "mean") -> list[torch.Tensor]:
        """One (d,) state per view: its mean latest-position state over a seeded sample of training
        histories (``mean``), or zeros (``zero``)."""
        if kind not in BASELINES:
            raise ValueError(f"baseline: {kind!r} is not one of {', '.join(BASELINES)}")
        if kind not in self._baselines:
            d = self.model.dim
            if kind == "zero":
                self._baselines[kind] = [torch.zeros(d, device=self.device) for _ in self.model.views]
            else:
                self._baselines[kind] = self._mean_states()
        return self._baselines[kind]

    def _mean_states(self) -> list[torch.Tensor]:
        built = self.built
        ds, split = built.train_dataset, built.train_split
        users = np.arange(1, ds.n_users + 1)
        users = users[split.train_end[users] > ds.offsets[users]]          # someone with a training event
        if len(users) > self.baseline_users:
            users = np.sort(np.random.default_rng(self.seed).choice(users, self.baseline_users, replace=False))
        rows = [(ds.items[ds.offsets[u]:split.train_end[u]], ds.timestamps[ds.offsets[u]:split.train_end[u]],
                 ds.actions[ds.offsets[u]:split.train_end[u]]) for u in users]
        batch = B.events_batch(ds, rows, users, self.rec.max_len).to(self.device)
        with torch.no_grad():
            return [v(batch).states[:, -1, :].float().mean(0) for v in self.model.views]

    def view_contributions(self, query: Query, item: int, baseline: str = "mean") -> list[dict[str, Any]]:
        """Per view: {view, fusion_weight, score_without, contribution (score - score_without),
        rank_without}; the item's score and rank with every view are in :meth:`explain`."""
        return self.view_contributions_many(query, [item], baseline)[0]

    def view_contributions_many(self, query: Query, items: list[int], baseline: str = "mean") -> list[list[dict]]:
        """:meth:`view_contributions` of each of ``items`` (one forward pass per view for all of them)."""
        batch = query.batch.to(self.device)
        model = self.model
        with torch.no_grad():
            outs = [v(batch) for v in model.views]
            _, _, weights = model.fuse(outs, batch)
            full = self._scores(batch, outs)[0]
            variants = []
            for k, base in enumerate(self.view_baselines(baseline)):
                state = base.to(outs[k].states.dtype).expand_as(outs[k].states)
                variants.append([ViewOutput(state) if j == k else o for j, o in enumerate(outs)])
            without = torch.cat([self._scores(batch, v) for v in variants]) if variants else None
        if without is None:
            return [[] for _ in items]
        rankable = self.rankable(without, query)
        w = weights[0, -1].float().tolist() if weights is not None else [None] * len(self.views)
        out = []
        for item in items:
            ranks = self.rank_of(rankable, item)
            out.append([{"view": name, "fusion_weight": w[k], "score_without": float(without[k, item]),
                         "contribution": float(full[item] - without[k, item]), "rank_without": int(ranks[k])}
                        for k, name in enumerate(self.views)])
        return out

    # ------------------------------------------------------------ history events
    def attribute(self, query: Query, item: int, method: str = "gradient_x_input", steps: int = 16) -> np.ndarray:
        """(n,) attribution of each event in the model's window (the latest ``min(len, max_len)``
        events, oldest first) to the item's score; see the module docstring for the methods."""
        if method not in METHODS:
            raise ValueError(f"method: {method!r} is not one of {', '.join(METHODS)}")
        n = min(len(query.items), self.rec.max_len)
        if method == "occlusion":
            return self._occlusion(query, item, n)
        alphas = torch.linspace(1.0 / steps, 1.0, steps) if method == "integrated_gradients" else torch.ones(1)
        return self._path_gradients(query, item, alphas.to(self.device))[-n:] if n else np.zeros(0)

    def _path_gradients(self, query: Query, item: int, alphas: torch.Tensor) -> np.ndarray:
        """sum over lookups of x * mean_alpha(grad f at alpha * x), per position: (L,)."""
        batch = query.batch.to(self.device)
        m = len(alphas)
        batch = _rows(batch, torch.zeros(m, dtype=torch.long, device=self.device))
        shape = tuple(batch.items.shape)
        leaves: list[tuple[torch.Tensor, torch.Tensor]] = []      # (looked-up x, alpha * x leaf)

        def hook(module, inputs, output):
            if output.dim() < 3 or tuple(output.shape[:2]) != shape:
                return None                                       # not a per-event lookup
            x = output.detach()
            leaf = (x * alphas.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)).requires_grad_(True)
            leaves.append((x, leaf))
            return leaf

        handles = [mod.register_forward_hook(hook) for mod in self.model.views.modules()
                   if isinstance(mod, nn.Embedding)]
        try:
            with torch.enable_grad():
                score = self._scores(batch)[:, item].sum()
                if not leaves:
                    return np.zeros(shape[1])
                grads = torch.autograd.grad(score, [leaf for _, leaf in leaves], allow_unused=True)
        finally:
            for h in handles:
                h.remove()
        total = torch.zeros(shape[1], device=self.device)
        for (x, _), g in zip(leaves, grads):
            if g is not None:
                total += (x.float() * g.float()).flatten(2).sum(-1).mean(0)   # mean over the path points
        return total.cpu().numpy() * (batch.items[0] > 0).cpu().numpy()

    def _occlusion(self, query: Query, item: int, n: int) -> np.ndarray:
        keep = np.ones((n, len(query.items)), dtype=bool)
        window = np.arange(len(query.items) - n, len(query.items))
        keep[np.arange(n), window] = False
        scores = self.scores_without(query, keep)[:, item]
        with torch.no_grad():
            full = self._scores(query.batch.to(self.device))[0, item]
        return (full - scores).cpu().numpy()

    def scores_without(self, query: Query, keep: np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """(R, N+1) scores after each row of ``keep`` ((R, len(history)) bool) removes the events it
        marks False from the history (older events move into the window as they would)."""
        out = []
        with torch.no_grad():
            for s in range(0, len(keep), batch_size):
                rows = [(query.items[k], query.timestamps[k], query.actions[k]) for k in keep[s:s + batch_size]]
                batch = B.events_batch(self.rec.dataset, rows, np.full(len(rows), query.user), self.rec.max_len)
                out.append(self._scores(batch.to(self.device)))
        return torch.cat(out)

    # ------------------------------------------------------------ nearest items
    def item_vectors(self) -> torch.Tensor | None:
        """(N+1, d) the vectors the head scores items with, or None when the head has none."""
        model = self.model
        with torch.no_grad():
            offered = model.item_embeddings()
            items = getattr(model.head, "items", None)
            if callable(items):
                try:
                    return items(offered).detach().float()
                except ValueError:
                    return None
            return offered.detach().float() if offered is not None else None

    def nearest_history(self, query: Query, item: int, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` distinct history items most similar (cosine of scoring vectors) to ``item``."""
        vectors = self.item_vectors()
        history = np.unique(query.items)
        if vectors is None or not len(history):
            return []
        v = torch.nn.functional.normalize(vectors, dim=-1)
        sims = v[torch.as_tensor(history, device=v.device)] @ v[item]
        order = torch.argsort(sims, descending=True)[:n].tolist()
        ds = self.rec.dataset
        return [{"item": int(history[j]), "raw_id": ds.item_raw_ids[history[j]], "title": ds.item_titles[history[j]],
                 "similarity": float(sims[j])} for j in order]

    # ------------------------------------------------------------ all of it
    def explain(self, query: Query, item: int | None = None, *, method: str = "gradient_x_input",
                baseline: str = "mean", top_events: int = 10, nearest: int = 5) -> dict[str, Any]:
        """-> {item: {item, raw_id, title, score, rank}, method, baseline, views: [...],
        events: [{position, item, raw_id, title, attribution}] (the ``top_events`` largest by |attribution|,
        position = index in the whole history, oldest 0), nearest: [...], window: events in the model's window}."""
        if item is None:
            item = self.default_item(query)
        if not 1 <= item <= self.rec.dataset.n_items:
            raise ValueError(f"item index {item} is not an item of dataset {self.rec.dataset.name!r}")
        with torch.no_grad():
            scores = self._scores(query.batch.to(self.device))
        rank = int(self.rank_of(self.rankable(scores, query), item)[0])
        excluded = bool(self.built.cfg.evaluation.exclude_seen and item in set(query.items.tolist()))
        attributions = self.attribute(query, item, method)
        n = len(attributions)
        offset = len(query.items) - n
        order = np.argsort(-np.abs(attributions), kind="stable")[:top_events]
        ds = self.rec.dataset
        events = [{"position": int(offset + j), "item": ds.item_raw_ids[query.items[offset + j]],
                   "title": ds.item_titles[query.items[offset + j]], "attribution": float(attributions[j])}
                  for j in order]
        return {"item": {"item": ds.item_raw_ids[item], "title": ds.item_titles[item],
                         "score": float(scores[0, item]), "rank": None if excluded else rank},
                "method": method, "baseline": baseline, "history_length": int(len(query.items)), "window": n,
                "views": self.view_contributions(query, item, baseline),
                "events": events, "nearest": self.nearest_history(query, item, nearest)}


def deletion_scores(explainer: Explainer, query: Query, item: int, order: np.ndarray, ks: list[int]) -> dict:
    """The item's score and rank after removing the first ``k`` events of ``order`` (indices into
    the whole history) for each k in ``ks``. -> {score: [...], rank: [...]} (rank among the items
    the original query may rank: its history stays excluded)."""
    keep = np.ones((len(ks), len(query.items)), dtype=bool)
    for r, k in enumerate(ks):
        keep[r, order[:k]] = False
    scores = explainer.scores_without(query, keep)
    ranks = explainer.rank_of(explainer.rankable(scores, query), item)
    return {"score": scores[:, item].tolist(), "rank": ranks.tolist()}
