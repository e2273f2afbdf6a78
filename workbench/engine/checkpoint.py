"""Checkpoint files under ``<workspace>.files/runs/<id>/`` with sha256, loaded with weights_only=True."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import torch


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_dir(ws, run_id: int) -> Path:
    return Path(ws.files_dir) / "runs" / str(run_id)


def save_checkpoint(ws, run_id: int, kind: str, epoch: int, state: dict[str, Any]) -> Path:
    """Atomically write ``<kind>.pt`` (kind: best | last) and record it (one row per run and kind)."""
    folder = run_dir(ws, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}.pt"
    tmp = folder / f".{kind}.pt.partial"
    torch.save(state, tmp)
    os.replace(tmp, path)
    digest = sha256_file(path)
    stored = ws.relative_file(path) if hasattr(ws, "relative_file") else str(path)
    with ws.db.conn:
        ws.db.execute("DELETE FROM checkpoints WHERE run_id = ? AND path = ?", [run_id, stored])
        ws.db.execute("INSERT INTO checkpoints (run_id, epoch, path, sha256, is_best, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", [run_id, epoch, stored, digest, int(kind == "best"), time.time()])
    return path


def checkpoint_path(ws, run_id: int, kind: str = "best") -> Path | None:
    """The recorded checkpoint file of a run (``best`` or ``last``), after checking its sha256."""
    rows = list(ws.db.query("SELECT path, sha256 FROM checkpoints WHERE run_id = ? AND is_best = ? "
                            "ORDER BY id DESC", [run_id, int(kind == "best")]))
    for row in rows:
        p = ws.resolve_file(row["path"]) if hasattr(ws, "resolve_file") else Path(row["path"])
        if Path(p).name != f"{kind}.pt" or not Path(p).exists():
            continue
        if sha256_file(p) != row["sha256"]:
            raise ValueError(f"checkpoint {p} does not match its recorded sha256 (file changed or corrupt)")
        return Path(p)
    return None


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)
