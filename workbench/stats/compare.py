"""Paired significance of runs (or seed groups) against a baseline, user by user.

``compare(ws, ["1", "2", "g3"])``: the first entry is the baseline; every other entry is paired
with it on every per-user metric they all stored (see :mod:`workbench.store.user_metrics`).
A group entry (``gN``) stands for its completed runs, each user's value averaged over them
(its across-seed mean, std and 95 % CI of each metric are reported too).

Pairing is refused (:class:`PairingError`, one clear line) when the entries were not evaluated
on the same thing: a different dataset fingerprint, split settings, evaluation protocol, or set
of evaluated users; also when an entry has no per-user metrics (not completed, or stored before
Workbench kept them).

Multiple comparisons: the family is every (metric, compared entry) pair; both the t-test and the
Wilcoxon p-values are Holm-adjusted over it, and a difference is marked significant when the
adjusted p-value of the chosen ``test`` is below ``alpha``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.stats.paired import DEFAULT_BOOTSTRAP, holm, paired_compare

TESTS = ("t", "wilcoxon")
ENTRY_RE = re.compile(r"^(g?)(\d+)$")


class PairingError(ValueError):
    """The entries cannot be paired (different data, split, protocol or users; missing per-user metrics)."""


@dataclass
class Entry:
    """A run or a group, resolved to the runs it stands for and their per-user metrics."""

    label: str                    # "run 3" / "group 2"
    ref: str                      # "3" / "g2"
    name: str
    run_ids: list[int]
    protocol: dict[str, Any]
    users: np.ndarray
    metrics: dict[str, np.ndarray]                # user-aligned (averaged over a group's runs)
    seeds: dict[str, dict] = field(default_factory=dict)   # group only: metric -> SeedSummary dict


def parse_entry(text: str) -> tuple[str, int]:
    """``"3"`` -> ("run", 3), ``"g2"`` -> ("group", 2); ValueError otherwise."""
    m = ENTRY_RE.match(str(text).strip())
    if not m:
        raise PairingError(f"{text!r} is neither a run id (3) nor a group id (g2)")
    return ("group" if m.group(1) else "run"), int(m.group(2))


def _effective(section: Any, options_cls) -> Any:
    """A stored config section completed with its options' defaults: a run stored before an option
    existed ran as that option's default does (a new option's default keeps the old behaviour), so
    it pairs with a newer run that stores the default value explicitly."""
    from dataclasses import asdict
    return {**asdict(options_cls()), **section} if isinstance(section, dict) else section


def protocol_of(facts: dict) -> dict[str, Any]:
    """What must be equal for two runs' users to be paired."""
    from workbench.engine.config import EvaluationOptions, SplitOptions
    cfg = facts.get("config") or {}
    return {"dataset fingerprint": facts.get("data_fingerprint"), "split": _effective(cfg.get("split"), SplitOptions),
            "evaluation protocol": _effective(cfg.get("evaluation"), EvaluationOptions)}


def _describe_difference(a: dict, b: dict) -> str:
    for key, va in a.items():
        vb = b.get(key)
        if va != vb:
            if isinstance(va, dict) and isinstance(vb, dict):
                keys = sorted(k for k in set(va) | set(vb) if va.get(k) != vb.get(k))
                detail = ", ".join(f"{key.split()[0]}.{k} {va.get(k)!r} vs {vb.get(k)!r}" for k in keys)
                return f"{key} differs ({detail})"
            return f"{key} differs ({str(va)[:16]} vs {str(vb)[:16]})"
    return "protocol differs"


def _run_entry(ws, run_id: int, split: str) -> tuple[dict, Any]:
    from workbench.store.run_groups import run_facts
    from workbench.store.user_metrics import load_split
    facts = run_facts(ws, run_id)
    if facts is None:
        raise PairingError(f"no run {run_id} in {ws.path}")
    if facts["status"] != "completed":
        raise PairingError(f"run {run_id} is {facts['status']}, not completed: it has no test evaluation to pair")
    data = load_split(ws, run_id, split)
    if data is None or not data.metrics:
        raise PairingError(f"run {run_id} has no per-user {split} metrics (evaluated before Workbench stored them, "
                           "or by evaluators without per-user values); re-run it to compare it")
    return facts, data


def resolve_entry(ws, text: str, split: str = "test") -> Entry:
    from workbench.stats.summary import summarize_metrics
    from workbench.store.run_groups import get_group, group_runs
    kind, ident = parse_entry(text)
    if kind == "run":
        facts, data = _run_entry(ws, ident, split)
        return Entry(f"run {ident}", str(ident), facts["name"] or "", [ident], protocol_of(facts),
                     data.users, data.metrics)
    group = get_group(ws, ident)
    if group is None:
        raise PairingError(f"no group {ident} in {ws.path}")
    members = [r for r in group_runs(ws, ident) if r["status"] == "completed"]
    if not members:
        raise PairingError(f"group {ident} has no completed run")
    loaded = [_run_entry(ws, r["id"], split) for r in members]
    first_facts, first = loaded[0]
    protocol = protocol_of(first_facts)
    names = [n for n in first.metrics if all(n in d.metrics for _, d in loaded[1:])]
    for facts, data in loaded[1:]:
        _check_same(protocol, protocol_of(facts), f"run {members[0]['id']}", f"run {facts['id']}", first.users,
                    data.users)
    metrics = {n: np.nanmean(np.stack([d.metrics[n] for _, d in loaded]), axis=0) if len(loaded) > 1
               else loaded[0][1].metrics[n] for n in names}
    seeds = {k: s.as_dict() for k, s in summarize_metrics([r["test_metrics"] or {} for r in members]).items()}
    return Entry(f"group {ident}", f"g{ident}", group["name"], [r["id"] for r in members], protocol,
                 first.users, metrics, seeds)


def _check_same(pa: dict, pb: dict, la: str, lb: str, ua: np.ndarray, ub: np.ndarray) -> None:
    if pa != pb:
        raise PairingError(f"cannot pair {la} with {lb}: {_describe_difference(pa, pb)}")
    if ua.shape != ub.shape or not np.array_equal(ua, ub):
        raise PairingError(f"cannot pair {la} with {lb}: they were evaluated on different users "
                           f"({ua.size} vs {ub.size} users)")


def compare(ws, entries: list[str], *, split: str = "test", metrics: list[str] | None = None,
            alpha: float = 0.05, test: str = "t", n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """The paired comparison of ``entries[1:]`` against ``entries[0]`` as a JSON-ready dict.

    Keys: ``baseline`` and ``compared`` (entry descriptions), ``split``, ``alpha``, ``test``,
    ``family_size``, ``metrics`` (names), and ``rows``: one per (compared entry, metric) with
    n, mean_a, mean_b, diff, ci_low, ci_high, t_p, wilcoxon_p, t_p_holm, wilcoxon_p_holm, significant.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r} (one of {TESTS})")
    if len(entries) < 2:
        raise PairingError("give at least two runs or groups to compare (the first is the baseline)")
    resolved = [resolve_entry(ws, e, split) for e in entries]
    base = resolved[0]
    for other in resolved[1:]:
        _check_same(base.protocol, other.protocol, base.label, other.label, base.users, other.users)
    shared = [n for n in base.metrics if all(n in o.metrics for o in resolved[1:])]
    if metrics:
        missing = [m for m in metrics if m not in shared]
        if missing:
            raise PairingError(f"metric {missing[0]!r} has no per-user values in every entry "
                               f"(available: {', '.join(shared) or 'none'})")
        shared = list(metrics)
    if not shared:
        raise PairingError("the entries share no per-user metric")
    rows = []
    for other in resolved[1:]:
        for name in shared:
            r = paired_compare(base.metrics[name], other.metrics[name], n_boot=n_boot, seed=seed)
            rows.append({"compared": other.ref, "metric": name, **r.as_dict()})
    for key in ("t_p", "wilcoxon_p"):
        adjusted = holm([row[key] for row in rows])
        for row, p in zip(rows, adjusted):
            row[key + "_holm"] = float(p)
    chosen = "t_p_holm" if test == "t" else "wilcoxon_p_holm"
    for row in rows:
        row["significant"] = bool(np.isfinite(row[chosen]) and row[chosen] < alpha)
    return {"baseline": _describe(base), "compared": [_describe(o) for o in resolved[1:]], "split": split,
            "alpha": alpha, "test": test, "bootstrap": n_boot, "family_size": len(rows), "metrics": shared,
            "num_users": int(base.users.size), "rows": _finite(rows)}


def _describe(e: Entry) -> dict:
    out = {"ref": e.ref, "label": e.label, "name": e.name, "runs": e.run_ids}
    if e.seeds:
        out["seeds"] = e.seeds
    return out


def _finite(rows: list[dict]) -> list[dict]:
    """Non-finite floats -> None so the JSON is standard."""
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in rows]
