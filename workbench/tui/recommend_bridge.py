"""Recommendations for the Inspect screen through the engine's Python API (imports torch: call from a thread).

Returns one dict per recommended item: item, raw_id, title, score, view_weights ({view: weight}).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def recommend_for(ws_path: Path, run_id: int, user: int, k: int = 10) -> list[dict[str, Any]]:
    try:
        from workbench.engine.recommend import recommend
    except ImportError as e:
        raise RuntimeError(f"this Workbench has no recommendation engine ({e})") from None
    from workbench.store import open_workspace

    ws = open_workspace(ws_path)
    try:
        result = recommend(ws, run_id, [user], k=k)
    finally:
        ws.close()
    return normalise(result)


def normalise(result: Any) -> list[dict[str, Any]]:
    """Accept the engine's per-user list of records (or a dict keyed by user) for one user."""
    if isinstance(result, dict):
        result = next(iter(result.values()), [])
    if result and isinstance(result[0], list):
        result = result[0]
    out = []
    for r in result or []:
        r = dict(r)
        out.append({"item": r.get("item"), "raw_id": r.get("raw_id"), "title": r.get("title"),
                    "score": float(r.get("score", 0.0)), "view_weights": r.get("view_weights") or r.get("weights")})
    return out
