"""Recommendations with explanations for the Inspect screen (imports torch: call from a thread worker).

Built on the engine's one top-K path (:class:`workbench.engine.inference.Recommender`,
as ``workbench recommend``), plus the "why":

- ``view_weights``: the fusion's weight of each view at the user's latest
  position, (V,) summing to 1 (None for fusions without weights);
- per item, ``view_scores``: the head's score of that item from each view's
  state alone, i.e. what each view on its own thinks of the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_RECOMMENDERS: dict[tuple[str, int], Any] = {}


def _recommender(ws, ws_path: Path, run_id: int):
    from workbench.engine.inference import Recommender

    key = (str(ws_path), run_id)
    if key not in _RECOMMENDERS:
        _RECOMMENDERS.clear()  # keep one model in memory
        _RECOMMENDERS[key] = Recommender.load(ws, run_id, device="cpu")
    return _RECOMMENDERS[key]


def explain(ws_path: Path, run_id: int, user: int, k: int = 10) -> dict[str, Any]:
    """-> {views: [names], view_weights: [w] | None, items: [{item, raw_id, title, score, view_scores}]}."""
    import torch

    from workbench.store import open_workspace

    ws = open_workspace(ws_path)
    try:
        rec = _recommender(ws, Path(ws_path), run_id)
    finally:
        ws.close()
    model, cfg = rec.model, rec.built.cfg
    query = rec.query_user(user)
    batch = query.batch.to(rec.built.device)
    types = [v.type for v in cfg.views]
    view_names = [t if types.count(t) == 1 else f"{t}{j + 1}" for j, t in enumerate(types)]
    top = rec.top_k(query, k)
    with torch.no_grad():
        _, _, weights = model.states(batch)
        item_emb = model.item_embeddings()
        per_view = []
        if len(model.views) > 1:
            for view in model.views:
                s = view(batch).states[:, -1, :]                                        # (1, d)
                per_view.append(model.head.score(s, item_emb, batch)[0].float())        # (N+1,)
    items = [{**r, "title": r["title"] or r["raw_id"],
              "view_scores": {n: float(v[r["item"]]) for n, v in zip(view_names, per_view)} or None}
             for r in top]
    w = weights[0, -1].float().tolist() if weights is not None else None
    return {"views": view_names, "view_weights": dict(zip(view_names, w)) if w else None, "items": items,
            "history_length": int(len(query.history))}


def recommend_for(ws_path: Path, run_id: int, user: int, k: int = 10) -> dict[str, Any]:
    return explain(ws_path, run_id, user, k)
