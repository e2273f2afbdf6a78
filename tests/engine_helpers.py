"""Helpers for the engine tests: a workspace with real ml-100k imported by the product importer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def ml100k_workspace(tmp_path_factory) -> Path:
    """A workspace file holding ``ml-100k`` (imported once per test module, copied per use)."""
    if not (SHARED / "ml-100k" / "u.data").exists():
        pytest.skip(f"real datasets not found at {SHARED} (needed for the engine tests)")
    from workbench.data.importer import import_path
    from workbench.store import open_workspace
    path = tmp_path_factory.mktemp("engine") / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_path(ws, SHARED / "ml-100k", name="ml-100k")
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def ml100k_dataset(tmp_path_factory):
    """The real ml-100k as a :class:`LoadedDataset`, imported by the product importer."""
    from workbench.data.dataset import load_dataset
    from workbench.store import open_workspace
    with open_workspace(ml100k_workspace(tmp_path_factory)) as ws:
        return load_dataset(ws, "ml-100k")


def copy_workspace(src: Path, dest_dir: Path) -> Path:
    dest = dest_dir / "ws.db"
    shutil.copy(src, dest)
    return dest


def tiny_config(**trainer) -> dict:
    """A small SASRec-CE experiment on ml-100k (fast on 2 CPU cores)."""
    return {
        "name": "tiny-sasrec", "dataset": "ml-100k",
        "model": {"dim": 32, "max_len": 50},
        "views": [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.1}],
        "head": {"type": "softmax_ce"},
        "evaluators": [{"type": "ranking", "ks": [10]}],
        "trainer": {"epochs": 2, "batch_size": 128, "lr": 3e-3, "seed": 7, "patience": 0, **trainer},
    }
