"""Experiment rows: a named experiment configuration (the parsed TOML), saved and loaded by name."""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.store.rows import loads, write


def upsert(conn, name: str, config: dict[str, Any], now: float | None = None) -> int:
    """Insert or update experiment ``name`` inside the caller's transaction; returns its id."""
    now = now or time.time()
    row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    if row:
        conn.execute("UPDATE experiments SET config = ?, updated_at = ? WHERE id = ?", (json.dumps(config), now, row[0]))
        return int(row[0])
    cur = conn.execute("INSERT INTO experiments (name, config, created_at, updated_at) VALUES (?, ?, ?, ?)",
                       (name, json.dumps(config), now, now))
    return int(cur.lastrowid)


def save(ws, name: str, config: dict[str, Any]) -> int:
    """Insert or replace experiment ``name``; returns its id."""
    with write(ws) as conn:
        return upsert(conn, name, config)


def load(ws, name: str) -> dict[str, Any] | None:
    row = ws.db.execute("SELECT config FROM experiments WHERE name = ?", [name]).fetchone()
    return loads(row[0], {}) if row else None


def id_of(ws, name: str) -> int | None:
    row = ws.db.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchone()
    return int(row[0]) if row else None


def list_all(ws) -> list[dict[str, Any]]:
    return [{"id": r["id"], "name": r["name"], "config": loads(r["config"], {}), "updated_at": r["updated_at"]}
            for r in ws.db.query("SELECT id, name, config, updated_at FROM experiments ORDER BY name")]
