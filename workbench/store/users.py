"""A dataset's users and their histories (what the app's Inspect screen reads)."""

from __future__ import annotations

from typing import Any


def find(ws, dataset_id: int, text: str) -> int | None:
    """A user by raw id, else by internal number; None when absent."""
    text = text.strip()
    row = ws.db.execute("SELECT user FROM users WHERE dataset_id = ? AND raw_id = ?", [dataset_id, text]).fetchone()
    if row:
        return int(row[0])
    if text.isdigit():
        row = ws.db.execute("SELECT user FROM users WHERE dataset_id = ? AND user = ?",
                            [dataset_id, int(text)]).fetchone()
        if row:
            return int(row[0])
    return None


def first(ws, dataset_id: int) -> tuple[int, str] | None:
    """(internal number, raw id) of the dataset's first user."""
    row = ws.db.execute("SELECT user, raw_id FROM users WHERE dataset_id = ? ORDER BY user LIMIT 1",
                        [dataset_id]).fetchone()
    return (int(row[0]), row[1]) if row else None


def next_after(ws, dataset_id: int, user: int) -> str | None:
    """The raw id of the user after internal number ``user`` (None after the last)."""
    row = ws.db.execute("SELECT raw_id FROM users WHERE dataset_id = ? AND user > ? ORDER BY user LIMIT 1",
                        [dataset_id, user]).fetchone()
    return row[0] if row else None


def history(ws, dataset_id: int, user: int, limit: int = 200) -> list[dict[str, Any]]:
    """The user's last ``limit`` events, oldest first: pos, item, raw id, title, ts, action."""
    rows = ws.db.query("""
        SELECT i.pos, i.item, i.ts, i.action, it.raw_id, it.title FROM interactions i
        LEFT JOIN items it ON it.dataset_id = i.dataset_id AND it.item = i.item
        WHERE i.dataset_id = ? AND i.user = ? ORDER BY i.pos DESC LIMIT ?""", [dataset_id, user, limit])
    return list(reversed([dict(r) for r in rows]))
