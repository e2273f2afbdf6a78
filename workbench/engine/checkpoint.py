"""Checkpoint files under ``<workspace>.files/runs/<id>/`` with sha256, loaded with weights_only=True."""

from __future__ import annotations

import hashlib
import os
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


def save_checkpoint(ws, run_id: int, kind: str, epoch: int, state: dict[str, Any], token: int | None = None) -> Path:
    """Write a ``kind`` checkpoint (best | last) so that a kill at any instant leaves a usable one.

    Each save goes to a new file (``last-e0007.pt``), written under a temporary name and
    linked into place (never over an existing file); its row is committed next, and only then
    are the superseded files of the same kind removed. Killed before the commit, the previous
    checkpoint and its row are intact (the new file is an orphan, swept by the next save);
    killed after it, the new one is recorded with its own hash. With ``token`` (the run owner
    lease) the row is only recorded while this process still owns the run: a stale owner's
    file is deleted again and :class:`workbench.store.leases.LeaseLost` raised.
    """
    from workbench.store import checkpoints
    from workbench.store.leases import LeaseLost, fenced

    folder = run_dir(ws, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{kind}-e{epoch:04d}.{os.getpid()}.partial"
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        digest = sha256_file(tmp)
    except BaseException:   # e.g. disk full: give the space of the partial file back at once
        tmp.unlink(missing_ok=True)
        raise
    path, n = folder / f"{kind}-e{epoch:04d}.pt", 1
    while True:  # the same epoch saved again (e.g. a resumed epoch): never overwrite a recorded file
        try:
            os.link(tmp, path)
            break
        except FileExistsError:
            path = folder / f"{kind}-e{epoch:04d}-{n}.pt"
            n += 1
    tmp.unlink()
    stored = ws.relative_file(path) if hasattr(ws, "relative_file") else str(path)
    try:
        with fenced(ws, run_id, token) as conn:
            checkpoints.record(conn, run_id, epoch, stored, digest, kind == "best")
    except LeaseLost:
        path.unlink(missing_ok=True)
        raise
    for old in folder.glob(f"{kind}*.pt"):  # superseded and orphaned files of this kind
        if old != path:
            old.unlink(missing_ok=True)
    return path


def checkpoint_path(ws, run_id: int, kind: str = "best") -> Path | None:
    """The recorded checkpoint file of a run (``best`` or ``last``), after checking its sha256."""
    from workbench.store import checkpoints

    for row in checkpoints.recorded(ws, run_id, kind == "best"):
        p = ws.resolve_file(row["path"]) if hasattr(ws, "resolve_file") else Path(row["path"])
        if not Path(p).name.startswith(kind) or not Path(p).exists():
            continue
        if sha256_file(p) != row["sha256"]:
            raise ValueError(f"checkpoint {p} does not match its recorded sha256 (file changed or corrupt)")
        return Path(p)
    return None


class CheckpointError(ValueError):
    """A checkpoint file that is not a valid weights file."""


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with ``weights_only=True`` (never arbitrary pickled code); a file that is not a valid
    weights file raises :class:`CheckpointError` with one line (not torch's advice to unpickle it)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} is missing") from None
    except Exception as e:  # noqa: BLE001 - UnpicklingError, RuntimeError (bad zip), EOFError, ...
        first = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        if "weights_only" in first:
            first = "it holds objects other than tensors and plain data"
        raise CheckpointError(f"checkpoint {path} is not a valid Workbench weights file ({first}); "
                              "it was changed or damaged after it was written") from None
