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
def write(ws) -> Iterator[Any]:
    """``with write(ws) as conn:`` one ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error.

    Reads inside it see the state the writes are based on (no other writer in between).
    """
    conn = ws.db.conn
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
