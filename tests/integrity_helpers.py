"""Small generated data and experiments for the run-integrity tests (no ../shared needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CLI = "from workbench.cli import main; main()"
CSV_MAP = "user=u,item=i,time=t"


def write_ratings(path: Path, users: int = 60, items: int = 40, per_user: int = 12, seed: int = 3,
                  permute_items: bool = False) -> Path:
    """A CSV of ``users`` x ``per_user`` events with a popularity skew; ``permute_items`` relabels the
    items (same shape, other data)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(1, items + 1)
    if permute_items:
        labels = np.random.default_rng(seed + 100).permutation(labels)
    p = 1.0 / np.arange(1, items + 1)
    p /= p.sum()
    lines = ["u,i,t"]
    for u in range(1, users + 1):
        for k, i in enumerate(rng.choice(items, size=per_user, p=p)):
            lines.append(f"{u},{labels[i]},{1_600_000_000 + u * 1000 + k}")
    path.write_text("\n".join(lines) + "\n")
    return path


def ratings_workspace(folder: Path, **ratings) -> Path:
    """A workspace ``folder/ws.db`` holding dataset ``r``: :func:`write_ratings` (``ratings``: its
    arguments) imported by the product importer."""
    from workbench.data.importer import import_path
    from workbench.store import open_workspace

    data = write_ratings(folder / "r.csv", **ratings)
    path = folder / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_path(ws, data, name="r", fmt="csv", reader_options={"map": CSV_MAP})
    return path


def tiny_experiment(epochs: int = 1, dataset: str = "r", **trainer) -> dict:
    return {"name": "tiny", "dataset": dataset, "model": {"dim": 8, "max_len": 12},
            "views": [{"type": "sasrec", "blocks": 1, "heads": 1}], "head": {"type": "softmax_ce"},
            "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
            "trainer": {"epochs": epochs, "batch_size": 16, "patience": 0, "device": "cpu", "threads": 1,
                        **trainer}}


def write_experiment(path: Path, config: dict) -> Path:
    from workbench.tui.experiment_config import to_toml
    path.write_text(to_toml(config))
    return path


def cli(ws_path: Path, *args, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "--workspace", str(ws_path), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error a failed command printed; asserts it is one clear line, not a traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("Error:")]
    assert lines, proc.stderr
    return lines[-1]
