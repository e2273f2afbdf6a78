"""Inference from a trained run: top-K recommendations for one user."""

from __future__ import annotations

import torch

from workbench.engine import batches as B


def recommend_for_user(ws, run_id: int, raw_user: str, *, k: int = 10, device: str = "cpu") -> dict:
    """-> {user, run_id, history_length, items: [{item (raw id), title, score}]} (seen items excluded)."""
    from workbench.engine.session import load_trained_model
    session = load_trained_model(ws, run_id, device=device)
    ds = session.dataset
    try:
        user = ds.user_raw_ids.index(str(raw_user), 1)
    except ValueError:
        raise KeyError(f"no user {raw_user!r} in dataset {ds.name!r}") from None
    batch, history = B.history_batch(ds, user, session.cfg.model.max_len)
    batch = batch.to(session.device)
    with torch.no_grad():
        scores = session.model.score(session.model.encode(batch), batch)[0].float()    # (N+1,)
    scores[0] = float("-inf")
    if session.cfg.evaluation.exclude_seen:
        scores[torch.as_tensor(history, device=scores.device)] = float("-inf")
    k = min(k, int(torch.isfinite(scores).sum()))
    top = torch.topk(scores, k)
    items = [{"item": ds.item_raw_ids[i], "title": ds.item_titles[i], "score": float(s)}
             for s, i in zip(top.values.tolist(), top.indices.tolist())]
    return {"user": str(raw_user), "run_id": run_id, "history_length": int(len(history)), "items": items}
