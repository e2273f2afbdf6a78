"""Small helpers shared by the store modules: JSON columns and write transactions."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator


def loads(value: str | None, default: Any = None) -> Any:
    """A JSON column's value, ``default`` when empty or not valid JSON."""
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


@contextlib.contextmanager
def write(ws, *, check_foreign_keys: bool = True) -> Iterator[Any]:
    """``with write(ws) as conn:`` one ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error.

    Reads inside it see the state the writes are based on (no other writer in between).
    ``check_foreign_keys=False`` skips SQLite's per-row foreign-key checks for this transaction (a bulk
    insert whose rows only reference a row it inserted itself); they are on again afterwards.
    """
    conn = ws.db.conn
    if conn.in_transaction:
        conn.commit()
    if not check_foreign_keys:
        conn.execute("PRAGMA foreign_keys=OFF")      # outside a transaction: SQLite ignores it inside one
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    finally:
        if not check_foreign_keys:
            conn.execute("PRAGMA foreign_keys=ON")
