"""A small generated demo dataset and short trained runs on it, through the real engine (no ../shared)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

CLI = "from workbench.cli import main; main()"

SASREC = {"name": "tiny-sasrec", "dataset": "demo", "model": {"dim": 16, "max_len": 20},
          "views": [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.0}], "fusion": {"type": "identity"},
          "head": {"type": "softmax_ce"}, "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
          "trainer": {"epochs": 2, "batch_size": 32, "lr": 0.005, "patience": 0, "device": "cpu", "threads": 1}}


def config(**changes) -> dict:
    """SASREC with top-level keys replaced (``views=[...]``, ``split={...}``, ...)."""
    out = copy.deepcopy(SASREC)
    out.update(copy.deepcopy(changes))
    return out


def demo_workspace(folder: Path, users: int = 120, items: int = 90, sessions_per_user: float = 5.0) -> Path:
    """A workspace holding a generated ``demo`` dataset (titles, actions, timestamps) of ``users`` users."""
    from workbench.data.demo import DemoSpec, ensure_demo_workspace
    path = folder / "demo.db"
    ensure_demo_workspace(str(path), DemoSpec(users=users, items=items, sessions_per_user=sessions_per_user)).close()
    return path


def train_and_test(ws_path: Path, cfg: dict) -> tuple[int, dict]:
    """Create and execute a run in this process (the real engine); returns (its id, its test metrics)."""
    from workbench.engine.runner import create_run, execute_run
    from workbench.store import open_workspace
    with open_workspace(ws_path) as ws:
        run_id = create_run(ws, cfg)
    return run_id, execute_run(ws_path, run_id)


def train(ws_path: Path, cfg: dict) -> int:
    """Create and execute a run in this process (the real engine); returns its id."""
    return train_and_test(ws_path, cfg)[0]


def cli(ws_path: Path, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``workbench`` CLI in a subprocess on ``ws_path``."""
    return subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
