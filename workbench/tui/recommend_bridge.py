"""Recommendations with explanations for the Inspect screen (imports torch: call from a thread worker).

Built on the engine's inference path (``load_trained_model`` + ``history_batch``,
as ``workbench recommend``), plus the "why":

- ``view_weights``: the fusion's weight of each view at the user's latest
  position, (V,) summing to 1 (None for fusions without weights);
- per item, ``view_scores``: the head's score of that item from each view's
  state alone, i.e. what each view on its own thinks of the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_SESSIONS: dict[tuple[str, int], Any] = {}


def _session(ws, ws_path: Path, run_id: int):
    from workbench.engine.session import load_trained_model

    key = (str(ws_path), run_id)
    if key not in _SESSIONS:
        _SESSIONS.clear()  # keep one model in memory
        _SESSIONS[key] = load_trained_model(ws, run_id, device="cpu")
    return _SESSIONS[key]


def explain(ws_path: Path, run_id: int, user: int, k: int = 10) -> dict[str, Any]:
    """-> {views: [names], view_weights: [w] | None, items: [{item, raw_id, title, score, view_scores}]}."""
    import torch

    from workbench.engine import batches as B
    from workbench.store import open_workspace

    ws = open_workspace(ws_path)
    try:
        session = _session(ws, Path(ws_path), run_id)
    finally:
        ws.close()
    ds, model = session.dataset, session.model
    batch, history = B.history_batch(ds, user, session.cfg.model.max_len)
    batch = batch.to(session.device)
    types = [v.type for v in session.cfg.views]
    view_names = [t if types.count(t) == 1 else f"{t}{j + 1}" for j, t in enumerate(types)]
    with torch.no_grad():
        fused, _, weights = model.states(batch)
        item_emb = model.item_embeddings()
        scores = model.head.score(fused[:, -1, :], item_emb, batch)[0].float()        # (N+1,)
        per_view = []
        if len(model.views) > 1:
            for view in model.views:
                s = view(batch).states[:, -1, :]                                        # (1, d)
                per_view.append(model.head.score(s, item_emb, batch)[0].float())        # (N+1,)
    scores[0] = float("-inf")
    if session.cfg.evaluation.exclude_seen and len(history):
        scores[torch.as_tensor(history, device=scores.device)] = float("-inf")
    k = min(k, int(torch.isfinite(scores).sum()))
    top = torch.topk(scores, k)
    items = []
    for s, i in zip(top.values.tolist(), top.indices.tolist()):
        items.append({"item": i, "raw_id": ds.item_raw_ids[i], "title": ds.item_titles[i] or ds.item_raw_ids[i],
                      "score": float(s),
                      "view_scores": {n: float(v[i]) for n, v in zip(view_names, per_view)} or None})
    w = weights[0, -1].float().tolist() if weights is not None else None
    return {"views": view_names, "view_weights": dict(zip(view_names, w)) if w else None, "items": items,
            "history_length": int(len(history))}


def recommend_for(ws_path: Path, run_id: int, user: int, k: int = 10) -> dict[str, Any]:
    return explain(ws_path, run_id, user, k)
