"""Dataset rows (metadata; the bulk import writes its rows in :mod:`workbench.data.importer`)."""

from __future__ import annotations

from typing import Any


class DatasetNotFound(KeyError):
    """No dataset with that name (the message lists the known ones)."""


def names(ws) -> list[str]:
    return [r[0] for r in ws.db.execute("SELECT name FROM datasets ORDER BY name")]


def find(ws, name: str) -> dict[str, Any] | None:
    rows = list(ws.db.query("SELECT * FROM datasets WHERE name = ?", [name]))
    return dict(rows[0]) if rows else None


def by_id(ws, dataset_id: int) -> dict[str, Any] | None:
    rows = list(ws.db.query("SELECT * FROM datasets WHERE id = ?", [dataset_id]))
    return dict(rows[0]) if rows else None


def require(ws, name: str, error: type[Exception] = DatasetNotFound, prefix: str = "") -> dict[str, Any]:
    """Dataset ``name``'s row, else ``error`` naming the datasets the workspace has."""
    row = find(ws, name)
    if row is None:
        known = ", ".join(names(ws)) or "none"
        raise error(f"{prefix}no dataset named {name!r} in {ws.path} (datasets: {known})")
    return row


def exists(ws, name: str) -> bool:
    return ws.db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone() is not None


def summaries(ws) -> list[dict[str, Any]]:
    rows = ws.db.query("SELECT id, name, format, n_users, n_items, n_interactions, has_timestamps, "
                       "fingerprint, created_at FROM datasets ORDER BY name")
    return [{**r, "has_timestamps": bool(r["has_timestamps"])} for r in rows]
