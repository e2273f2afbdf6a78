"""One top-K inference path (issue 19): a stored run's model is loaded for queries only by
``workbench.engine.inference.Recommender``, and no command or screen ranks items itself."""

from __future__ import annotations

import ast
from pathlib import Path

import workbench

PACKAGE = Path(workbench.__file__).parent


def _calls(path: Path) -> set[str]:
    """Names of the functions and methods ``path`` calls (``f(...)`` -> f, ``x.f(...)`` -> f)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            f = node.func
            out.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return out


def _modules() -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): _calls(p) for p in PACKAGE.rglob("*.py")}


def test_only_the_recommender_loads_a_trained_model():
    callers = sorted(m for m, calls in _modules().items() if "load_trained_model" in calls)
    assert callers == ["engine/inference.py"]


def test_no_command_or_screen_ranks_items_itself():
    """Top-K lists come from ``Recommender.top_k``; ``topk`` is called by the engine only."""
    rankers = sorted(m for m, calls in _modules().items() if "topk" in calls)
    assert rankers and all(m in ("engine/inference.py", "engine/ranking.py", "engine/block_ranking.py")
                           for m in rankers), rankers
