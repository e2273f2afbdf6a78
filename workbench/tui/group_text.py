"""How the app writes a run group's summary: per test metric the mean, standard deviation and 95 % CI
over its completed runs (the numbers of ``workbench runs group gN``, from :func:`workbench.engine.seeds.group_view`)."""

from __future__ import annotations

KEY_METRICS = ("NDCG@10", "HR@10")


def metric_summary(name: str, s: dict) -> str:
    """``NDCG@10 0.1234 sd 0.0050 95% CI [0.1110, 0.1358] (n=3)``; one run: no spread to show."""
    if s.get("std") is None:
        return f"{name} {s['mean']:.4f} (n={s['n']}, no spread from one run)"
    return f"{name} {s['mean']:.4f} sd {s['std']:.4f} 95% CI [{s['ci_low']:.4f}, {s['ci_high']:.4f}] (n={s['n']})"


def group_line(view: dict, metrics: tuple[str, ...] = KEY_METRICS) -> str:
    """One line on a group: what it is, how many runs are done, and its key metrics' summaries."""
    runs = view["runs"]
    done = sum(r["status"] == "completed" for r in runs)
    head = f"group g{view['id']} ({view['kind']}) {view['name']}: {done}/{len(runs)} runs completed"
    if view["kind"] == "tune":
        return f"{head}; a tuning study: its trials are on the Studies screen (a)"
    shown = [metric_summary(k, view["summary"][k]) for k in metrics if k in view["summary"]]
    return head + ("; " + "; ".join(shown) if shown else "; no test metrics yet")


def half_width(s: dict) -> float | None:
    """The 95 % CI half-width of a summary (None without spread)."""
    return None if s.get("ci_high") is None else s["ci_high"] - s["mean"]
