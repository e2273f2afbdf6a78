"""Read-only queries for warm starts and item files: a stored run's dataset, a dataset's item catalogue and
item contents (titles, categories, texts)."""

from __future__ import annotations

import json


def run_source(ws, run_id: int) -> dict:
    """{"id", "status", "config" (resolved, parsed), "dataset", "fingerprint", "n_items"} of run ``run_id``;
    KeyError naming the workspace when there is none."""
    rows = list(ws.db.query(
        "SELECT r.id, r.status, r.config, d.name AS dataset, d.fingerprint, d.n_items FROM runs r "
        "LEFT JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?", [run_id]))
    if not rows:
        raise KeyError(f"no run {run_id} in {ws.path}")
    row = dict(rows[0])
    row["config"] = json.loads(row["config"]) if row["config"] else {}
    return row


def warm_start_sources(ws) -> list[dict]:
    """Runs ``init_from`` can start from, newest first: those with a recorded best checkpoint whose dataset is
    still in the workspace (id, name, status, dataset)."""
    return [dict(r) for r in ws.db.query(
        "SELECT r.id, r.name, r.status, d.name AS dataset FROM runs r JOIN datasets d ON d.id = r.dataset_id "
        "WHERE EXISTS (SELECT 1 FROM checkpoints c WHERE c.run_id = r.id AND c.is_best = 1) ORDER BY r.id DESC")]


def item_catalogue(ws, dataset: str) -> tuple[list[str], list[str]]:
    """(raw ids, titles) of dataset ``dataset``, each a list of length N+1 indexed by internal id (0 empty)."""
    meta = list(ws.db.query("SELECT id, n_items FROM datasets WHERE name = ?", [dataset]))
    if not meta:
        raise KeyError(f"no dataset named {dataset!r} in {ws.path}")
    n = int(meta[0]["n_items"])
    raw, titles = [""] * (n + 1), [""] * (n + 1)
    for r in ws.db.query("SELECT item, raw_id, title FROM items WHERE dataset_id = ?", [meta[0]["id"]]):
        raw[r["item"]], titles[r["item"]] = str(r["raw_id"]), r["title"] or ""
    return raw, titles


def item_contents(ws, dataset: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(titles, categories, texts) of dataset ``dataset``, each of length N+1 indexed by internal id (0 empty)."""
    meta = list(ws.db.query("SELECT id, n_items FROM datasets WHERE name = ?", [dataset]))
    if not meta:
        raise KeyError(f"no dataset named {dataset!r} in {ws.path}")
    n = int(meta[0]["n_items"])
    titles, cats, texts = [""] * (n + 1), [[] for _ in range(n + 1)], [""] * (n + 1)
    for r in ws.db.query("SELECT item, title, text, categories FROM items WHERE dataset_id = ?", [meta[0]["id"]]):
        titles[r["item"]], texts[r["item"]] = r["title"] or "", r["text"] or ""
        if r["categories"] and r["categories"] != "[]":
            cats[r["item"]] = json.loads(r["categories"])
    return titles, cats, texts


def warm_start_report(ws, run_id: int) -> dict | None:
    """The ``init_from`` report a run stored with its events (see workbench/engine/transfer.py), or None."""
    for (data,) in ws.db.execute("SELECT data FROM run_events WHERE run_id = ? AND kind = 'log' AND data LIKE ? "
                                 "ORDER BY id", [run_id, '%"init_from"%']):
        try:
            report = json.loads(data).get("init_from")
        except ValueError:
            continue
        if isinstance(report, dict):
            return report
    return None
