"""Checkpoints survive a kill at any instant of a save (real workspace, real files)."""

import torch

from workbench.engine.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint, sha256_file
from workbench.store import open_workspace


def _state(value: float) -> dict:
    return {"model": {"w": torch.full((3,), value)}, "epoch": int(value)}


def test_kill_between_file_write_and_record_keeps_the_previous_checkpoint(tmp_path):
    with open_workspace(tmp_path / "ck.db", create=True) as ws:
        run_id = ws.db["runs"].insert({"status": "running", "config": "{}", "created_at": 0.0}).last_pk
        first = save_checkpoint(ws, run_id, "last", 1, _state(1.0))
        # a worker killed after writing the next file but before recording it leaves an orphan
        orphan = first.with_name("last-e0002.pt")
        torch.save(_state(2.0), orphan)
        found = checkpoint_path(ws, run_id, "last")
        assert found == first
        assert load_checkpoint(found)["model"]["w"].tolist() == [1.0, 1.0, 1.0]
        # the next save records a new file and sweeps both the superseded and the orphaned one
        newest = save_checkpoint(ws, run_id, "last", 2, _state(2.5))
        assert newest != orphan and newest.exists() and not first.exists() and not orphan.exists()
        rows = list(ws.db.query("SELECT path, sha256 FROM checkpoints WHERE run_id = ?", [run_id]))
        assert len(rows) == 1 and rows[0]["sha256"] == sha256_file(newest)
        assert load_checkpoint(checkpoint_path(ws, run_id, "last"))["model"]["w"].tolist() == [2.5] * 3


def test_best_and_last_are_kept_apart(tmp_path):
    with open_workspace(tmp_path / "ck.db", create=True) as ws:
        run_id = ws.db["runs"].insert({"status": "running", "config": "{}", "created_at": 0.0}).last_pk
        best = save_checkpoint(ws, run_id, "best", 1, _state(1.0))
        last = save_checkpoint(ws, run_id, "last", 2, _state(2.0))
        assert checkpoint_path(ws, run_id, "best") == best and checkpoint_path(ws, run_id, "last") == last
        assert best.exists() and last.exists()
