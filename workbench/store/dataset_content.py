"""A dataset's content rows: its interactions, items and users (the ``datasets`` row itself is
:mod:`workbench.store.datasets`).

Writes take the connection of the caller's transaction (an import writes everything or nothing,
:mod:`workbench.data.importer`); reads return rows or plain numbers for the loader
(:mod:`workbench.data.dataset`) and the statistics (:mod:`workbench.data.stats`).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

CONTENT_TABLES = ("interactions", "items", "users")


# ------------------------------------------------------------------ writes (inside the caller's transaction)
def insert_interactions(conn, columns: list[str], rows: Iterable[tuple]) -> None:
    """``rows``: tuples in the order of ``columns`` (``dataset_id``, ``user``, ``item``, ``pos``, and any of
    ``ts``, ``action``, ``value``)."""
    conn.executemany(f"INSERT INTO interactions ({', '.join(columns)}) "
                     f"VALUES ({', '.join('?' * len(columns))})", rows)


def insert_items(conn, rows: Iterable[tuple]) -> None:
    """``rows``: (dataset_id, item, raw_id, title, text, categories JSON, extra JSON)."""
    conn.executemany("INSERT INTO items (dataset_id, item, raw_id, title, text, categories, extra) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def insert_users(conn, rows: Iterable[tuple]) -> None:
    """``rows``: (dataset_id, user, raw_id, attributes JSON)."""
    conn.executemany("INSERT INTO users (dataset_id, user, raw_id, attributes) VALUES (?, ?, ?, ?)", rows)


def delete(conn, dataset_id: int) -> None:
    """Delete a dataset's content rows (the caller deletes or replaces its ``datasets`` row)."""
    for table in CONTENT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])


# ------------------------------------------------------------------ reads
def items(conn, dataset_id: int) -> Iterator[tuple[int, str, str | None, str | None, str | None]]:
    """(item, raw_id, title, text, categories JSON) of every item."""
    return conn.execute("SELECT item, raw_id, title, text, categories FROM items WHERE dataset_id = ?",
                        [dataset_id])


def users(conn, dataset_id: int) -> Iterator[tuple[int, str, str | None]]:
    """(user, raw_id, attributes JSON) of every user."""
    return conn.execute("SELECT user, raw_id, attributes FROM users WHERE dataset_id = ?", [dataset_id])


def interactions(db, dataset_id: int) -> Iterator[tuple[int, int, Any, Any, Any]]:
    """(user, item, ts, action, value) of every event, by user and then position in the user's history."""
    return db.execute("SELECT user, item, ts, action, value FROM interactions WHERE dataset_id = ? "
                      "ORDER BY user, pos", [dataset_id])


def history_lengths(db, dataset_id: int) -> list[int]:
    """The number of events of each user (in no particular order)."""
    return [r[0] for r in db.execute("SELECT COUNT(*) FROM interactions WHERE dataset_id = ? GROUP BY user",
                                     [dataset_id])]


def item_counts(db, dataset_id: int) -> list[int]:
    """The number of events of each item that has any (in no particular order)."""
    return [r[0] for r in db.execute("SELECT COUNT(*) FROM interactions WHERE dataset_id = ? GROUP BY item",
                                     [dataset_id])]


def time_range(db, dataset_id: int) -> tuple[Any, Any]:
    """(earliest, latest) event time."""
    return tuple(db.execute("SELECT MIN(ts), MAX(ts) FROM interactions WHERE dataset_id = ?",
                            [dataset_id]).fetchone())


def action_counts(db, dataset_id: int) -> list[tuple[str | None, int]]:
    """(action, events) most frequent first; None for events without an action."""
    return [tuple(r) for r in db.execute(
        "SELECT action, COUNT(*) FROM interactions WHERE dataset_id = ? GROUP BY action ORDER BY COUNT(*) DESC",
        [dataset_id])]


def daily_counts(db, dataset_id: int) -> list[tuple[int, int]]:
    """(UTC day number since the epoch, events) for each day with events, in order."""
    return [tuple(r) for r in db.execute(
        "SELECT CAST(ts / 86400 AS INTEGER) AS day, COUNT(*) FROM interactions "
        "WHERE dataset_id = ? AND ts IS NOT NULL GROUP BY day ORDER BY day", [dataset_id])]
