"""Runs side by side: one row per run with its metrics, sorting, and CSV / Markdown text (torch-free).

The app's Compare screen shows these rows and writes the exports; they are plain
functions of a workspace so other front ends can use them.
"""

from __future__ import annotations

import csv
import io
from typing import Any


def metric_names(rows: list[dict[str, Any]]) -> list[str]:
    """The metric names of epoch rows (``metrics``) or run rows (``test_metrics``), first seen first."""
    names: list[str] = []
    for r in rows:
        for k in (r.get("metrics") or r.get("test_metrics") or {}):
            if k not in names:
                names.append(k)
    return names


PARAM_COLUMNS = ("views", "fusion", "head", "dim", "max_len", "lr", "epochs", "seed")


def params_of(config: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters a comparison shows, from a run's resolved config."""
    def kind(entry) -> str:
        return entry.get("type", "") if isinstance(entry, dict) else str(entry or "")

    model, trainer = config.get("model") or {}, config.get("trainer") or {}
    return {"views": "+".join(kind(v) for v in config.get("views") or []), "fusion": kind(config.get("fusion")),
            "head": kind(config.get("head")), "dim": model.get("dim"), "max_len": model.get("max_len"),
            "lr": trainer.get("lr"), "epochs": trainer.get("epochs"), "seed": trainer.get("seed")}


def matches(row: dict[str, Any], text: str) -> bool:
    """Whether a compare row's name, dataset, status or views contain ``text`` (case-insensitive)."""
    text = text.strip().lower()
    hay = " ".join(str(v) for v in (row["name"], row["dataset"], row["status"], row["params"].get("views", "")))
    return not text or text in hay.lower()


METRIC_SETS = {"test": "test set", "val": "validation at each run's best epoch"}


def compare_rows(ws, metric_set: str = "test") -> list[dict[str, Any]]:
    """One row per run: id, name, status, dataset, best epoch, hyperparameters (``params``), its test metrics
    (``test``), its validation metrics at its best epoch (``val``, named ``val:NAME``) and ``metrics``: one of
    the two for every row (``metric_set``), never a mix (see :func:`with_metric_set`).
    """
    from workbench.store import runs

    out = []
    for r in runs.monitor_list(ws):
        val = {}
        ems = [e for e in runs.epochs(ws, r["id"]) if e["metrics"]]
        if ems:
            best = next((e for e in ems if e["epoch"] == r["best_epoch"]), ems[-1])
            val = {f"val:{k}": v for k, v in best["metrics"].items()}
        out.append({"id": r["id"], "name": r["name"] or f"run {r['id']}", "status": r["status"],
                    "dataset": r["dataset"] or "", "best_epoch": r["best_epoch"], "test": dict(r["test_metrics"] or {}),
                    "val": val, "params": params_of(r["config"] or {})})
    return with_metric_set(out, metric_set)


def with_metric_set(rows: list[dict[str, Any]], metric_set: str) -> list[dict[str, Any]]:
    """The rows with ``metrics`` set to their ``test`` or their ``val`` metrics (the same set for all)."""
    if metric_set not in METRIC_SETS:
        raise ValueError(f"metric set must be one of {', '.join(METRIC_SETS)}, not {metric_set!r}")
    return [{**r, "metrics": r[metric_set]} for r in rows]


def switched_metric(metric: str, metric_set: str) -> str:
    """The metric column ``metric`` in ``metric_set``: ``NDCG@10`` <-> ``val:NDCG@10``."""
    base = metric.removeprefix("val:")
    return f"val:{base}" if metric_set == "val" else base


def is_auxiliary(metric: str) -> bool:
    """A timing (``*_s``: seconds of training, scoring, ranking) or count (``*num_users``) column rather than a
    quality metric; the Compare screen hides these until asked."""
    base = metric.removeprefix("val:")
    return base.endswith("_s") or base.endswith("num_users")


def group_rows(ws) -> list[dict[str, Any]]:
    """One row per seeds group, shaped like :func:`compare_rows`' (``id`` is the group id, ``ref`` ``gN``):
    ``metrics`` are the means over its completed runs, ``summary`` each metric's mean, sd and 95 % CI
    (:func:`workbench.engine.seeds.group_view`); ``params`` are its first run's, ``seed`` the seeds' range."""
    from workbench.engine.seeds import group_view
    from workbench.store.run_groups import list_groups, run_facts

    out = []
    for g in list_groups(ws, kind="seeds"):
        view = group_view(ws, g["id"])
        if view is None or not view["runs"]:
            continue
        first = run_facts(ws, view["runs"][0]["id"]) or {}
        params = params_of(first.get("config") or {})
        seeds = [r["seed"] for r in view["runs"] if r["seed"] is not None]
        params["seed"] = f"{min(seeds)}-{max(seeds)}" if seeds else None
        out.append({"id": g["id"], "ref": f"g{g['id']}", "name": view["name"], "status": view["status"],
                    "dataset": first.get("dataset") or "", "best_epoch": None, "params": params,
                    "metrics": {k: s["mean"] for k, s in view["summary"].items()}, "summary": view["summary"],
                    "runs": [r["id"] for r in view["runs"]]})
    return out


def metric_columns(rows: list[dict[str, Any]], auxiliary: bool = True) -> list[str]:
    """Every metric any row has, first seen first (without timing and count columns unless ``auxiliary``)."""
    metrics: list[str] = []
    for r in rows:
        for k in r["metrics"]:
            if k not in metrics and (auxiliary or not is_auxiliary(k)):
                metrics.append(k)
    return metrics


def cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


SUMMARY_FIELDS = (("sd", "std"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("n", "n"))  # (column, key)


def export_table(rows: list[dict[str, Any]], best_epoch: str = "best_epoch") -> tuple[list[str], list[list[str]]]:
    """(header, rows of cells) of an export: the run, then each metric; a seeds group's row (it has a
    ``summary``) adds each metric's ``sd``, ``ci_low``, ``ci_high`` (95 % CI) and ``n`` (completed runs)."""
    metrics = metric_columns(rows)
    summarised = any(r.get("summary") for r in rows)
    head = ["run", "name", "status", "dataset", best_epoch]
    for m in metrics:
        head += [m, *(f"{m} {column}" for column, _ in SUMMARY_FIELDS)] if summarised else [m]
    table = []
    for r in rows:
        cells = [str(r.get("ref", r["id"])), r["name"], r["status"], r["dataset"], cell(r["best_epoch"])]
        for m in metrics:
            cells.append(cell(r["metrics"].get(m)))
            if summarised:
                s = (r.get("summary") or {}).get(m) or {}
                cells += [cell(s.get(key)) for _, key in SUMMARY_FIELDS]
        table.append(cells)
    return head, table


def to_csv(rows: list[dict[str, Any]]) -> str:
    head, table = export_table(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(table)
    return buf.getvalue()


def to_markdown(rows: list[dict[str, Any]]) -> str:
    head, table = export_table(rows, best_epoch="best epoch")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cells in table:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool = True) -> list[dict[str, Any]]:
    """Sort by a metric name or a plain column (``id``, ``name``, ``status``); missing values last."""
    def value(r):
        params = r.get("params") or {}
        v = r["metrics"].get(key) if key in r["metrics"] else params[key] if key in params else r.get(key)
        return (v is None, v if v is not None else 0)

    present = [r for r in rows if not value(r)[0]]
    missing = [r for r in rows if value(r)[0]]
    return sorted(present, key=lambda r: value(r)[1], reverse=descending) + missing
