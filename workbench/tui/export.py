"""Comparison tables as CSV or Markdown text (pure functions; the Compare screen writes them to files)."""

from __future__ import annotations

import csv
import io
from typing import Any


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    metrics: list[str] = []
    for r in rows:
        for k in r["metrics"]:
            if k not in metrics:
                metrics.append(k)
    return metrics


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def to_csv(rows: list[dict[str, Any]]) -> str:
    metrics = _columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", "name", "status", "dataset", "best_epoch", *metrics])
    for r in rows:
        w.writerow([r["id"], r["name"], r["status"], r["dataset"], _cell(r["best_epoch"]),
                    *[_cell(r["metrics"].get(m)) for m in metrics]])
    return buf.getvalue()


def to_markdown(rows: list[dict[str, Any]]) -> str:
    metrics = _columns(rows)
    head = ["run", "name", "status", "dataset", "best epoch", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["id"]), r["name"].replace("|", "\\|"), r["status"], r["dataset"], _cell(r["best_epoch"]),
                 *[_cell(r["metrics"].get(m)) for m in metrics]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool = True) -> list[dict[str, Any]]:
    """Sort by a metric name or a plain column (``id``, ``name``, ``status``); missing values last."""
    def value(r):
        v = r["metrics"].get(key) if key in r["metrics"] else r.get(key)
        return (v is None, v if v is not None else 0)

    present = [r for r in rows if not value(r)[0]]
    missing = [r for r in rows if value(r)[0]]
    return sorted(present, key=lambda r: value(r)[1], reverse=descending) + missing
