"""Checkpoint rows: the recorded file (path relative to the workspace's files folder) and its sha256."""

from __future__ import annotations

import time


def record(conn, run_id: int, epoch: int, stored_path: str, digest: str, is_best: bool) -> int:
    """Record a new checkpoint of its kind and drop the rows it supersedes (inside the caller's transaction)."""
    cur = conn.execute("INSERT INTO checkpoints (run_id, epoch, path, sha256, is_best, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", [run_id, epoch, stored_path, digest, int(is_best), time.time()])
    conn.execute("DELETE FROM checkpoints WHERE run_id = ? AND is_best = ? AND id != ?",
                 [run_id, int(is_best), cur.lastrowid])
    return int(cur.lastrowid)


def recorded(ws, run_id: int, is_best: bool) -> list[dict]:
    """The run's recorded checkpoints of one kind, newest first: path, sha256."""
    return [dict(r) for r in ws.db.query("SELECT path, sha256 FROM checkpoints WHERE run_id = ? AND is_best = ? "
                                         "ORDER BY id DESC", [run_id, int(is_best)])]
