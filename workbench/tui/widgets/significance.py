"""Paired significance of marked runs for the Compare screen (computed by workbench.stats.compare)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.widgets import Static

DEFAULT_METRIC = "NDCG@10"


def metric_for(sort_key: str) -> str:
    """The metric to test: the sorted-by test metric, else NDCG@10."""
    return sort_key if "@" in sort_key and not sort_key.startswith("val:") else DEFAULT_METRIC


def _label(ref: str) -> str:
    return f"group {ref}" if ref.startswith("g") else f"run {ref}"


def significance_text(ws_path: Path, run_ids: list[int], metric: str, *, groups: bool = False) -> str:
    """Rich markup: the lowest marked id is the baseline; each other run vs it on ``metric``
    (bootstrap 95% CI, paired t and Wilcoxon p, Holm over the runs compared). ``groups``: the ids are
    seeds groups, each user's value averaged over the group's completed runs (``runs compare gA gB``)."""
    from workbench.stats.compare import PairingError, compare
    from workbench.store import open_workspace
    refs = [f"g{i}" if groups else str(i) for i in sorted(run_ids)]
    if len(refs) < 2:
        return (f"mark two or more {'groups' if groups else 'runs'} (space), then press t to test their "
                f"differences user by user")
    try:
        with open_workspace(ws_path) as ws:
            result = compare(ws, refs, metrics=[metric])
    except PairingError as e:
        return f"[red]{escape(str(e))}[/red]"
    lines = [f"{escape(metric)} on {result['num_users']} test users, baseline {_label(refs[0])}; "
             f"Holm over {result['family_size']} comparisons, * = significant at {result['alpha']}"]
    for row in result["rows"]:
        if row["diff"] is None:
            lines.append(f"{_label(row['compared'])}: no user with a value in both")
            continue
        mark = ("[green]* better[/green]" if row["diff"] > 0 else "[red]* worse[/red]") if row["significant"] \
            else "not significant"
        lines.append(f"{_label(row['compared'])}: {row['diff']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]  "
                     f"p(t) {row['t_p']:.3g}  p(Wilcoxon) {row['wilcoxon_p']:.3g}  Holm {row['t_p_holm']:.3g}  {mark}")
    return "\n".join(lines)


class SignificancePanel(Static):
    """Shows the result of :func:`significance_text` (filled by the screen's background worker)."""
