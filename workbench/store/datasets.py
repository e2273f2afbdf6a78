"""Dataset rows (metadata: name, format, sizes, fingerprint); a dataset's interactions, items and
users are :mod:`workbench.store.dataset_content`. The import's one transaction is driven by
:mod:`workbench.data.importer`."""

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


def id_of(conn, name: str) -> int | None:
    """The id of dataset ``name`` (read on the caller's connection, e.g. inside its transaction)."""
    row = conn.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def fingerprints(ws) -> set[str]:
    """The data fingerprints of the workspace's datasets."""
    return {r[0] for r in ws.db.execute("SELECT fingerprint FROM datasets")}


def insert(conn, *, name: str, fmt: str, source_files: str, options: str, n_users: int, n_items: int,
           n_interactions: int, has_timestamps: bool, fingerprint: str, created_at: float) -> int:
    """A new ``datasets`` row (``source_files`` and ``options`` as JSON text); returns its id."""
    cur = conn.execute(
        "INSERT INTO datasets (name, format, source_files, options, n_users, n_items, n_interactions, "
        "has_timestamps, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, fmt, source_files, options, n_users, n_items, n_interactions, int(has_timestamps), fingerprint,
         created_at])
    return cur.lastrowid


def delete(conn, dataset_id: int) -> None:
    """Delete a dataset with its content rows (runs keep existing; see :func:`guard_change`)."""
    from workbench.store import dataset_content
    dataset_content.delete(conn, dataset_id)
    conn.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])


def summaries(ws) -> list[dict[str, Any]]:
    rows = ws.db.query("SELECT id, name, format, n_users, n_items, n_interactions, has_timestamps, "
                       "fingerprint, created_at FROM datasets ORDER BY name")
    return [{**r, "has_timestamps": bool(r["has_timestamps"])} for r in rows]


class DatasetInUse(ValueError):
    """Replacing or removing a dataset that stored runs were trained on (needs ``force``)."""


def runs_on(conn, dataset_id: int) -> list[tuple[int, str, str | None]]:
    """(run id, status, data fingerprint) of the runs recorded on ``dataset_id``."""
    return [tuple(r) for r in conn.execute("SELECT id, status, data_fingerprint FROM runs WHERE dataset_id = ? "
                                           "ORDER BY id", [dataset_id])]


def guard_change(conn, name: str, dataset_id: int, new_fingerprint: str | None, *, force: bool) -> list[int]:
    """Before dataset ``name`` (id ``dataset_id``) is replaced by data with ``new_fingerprint`` (None: removed).

    Runs trained on exactly the same data (same fingerprint) are unaffected: their ids are returned so the
    caller points them at the new dataset row. Any other run would be left pointing at data it was not
    trained on: without ``force`` that raises :class:`DatasetInUse` naming the runs; with ``force`` the runs
    are kept (metrics, curves, checkpoints) but detached (``dataset_id`` NULL), and everything that needs
    their data (recommend, explain, Inspect, resume) refuses them because the fingerprint differs.
    A queued or running run is refused even with ``force``.
    """
    used = runs_on(conn, dataset_id)
    same = [r[0] for r in used if new_fingerprint is not None and r[2] == new_fingerprint]
    other = [r for r in used if r[0] not in same]
    active = [r[0] for r in other if r[1] in ("queued", "running")]
    verb = "replace" if new_fingerprint is not None else "remove"
    if active:
        raise DatasetInUse(f"cannot {verb} dataset {name!r}: run(s) {_ids(active)} are queued or training on it; "
                           "cancel them first")
    if other and not force:
        raise DatasetInUse(f"cannot {verb} dataset {name!r}: run(s) {_ids([r[0] for r in other])} were trained on "
                           f"it and would no longer match their data; pass --force to {verb} it anyway (those runs "
                           "keep their metrics but can no longer recommend, be inspected or resume)")
    return same


def repoint(conn, run_ids: list[int], dataset_id: int) -> None:
    conn.executemany("UPDATE runs SET dataset_id = ? WHERE id = ?", [(dataset_id, r) for r in run_ids])


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
